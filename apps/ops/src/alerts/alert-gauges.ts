import { Injectable } from '@nestjs/common';
import { metricsRegistry } from '@hms/platform';
import { Gauge } from 'prom-client';
import { DataSource } from 'typeorm';

/**
 * `hms_alerts_open{pool, kind, status}`: alerts not yet resolved, read from Postgres at scrape
 * time so every OPS replica reports the same number (alert on `max`, not `sum`). A request's own
 * SLA alert has no pool: its `pool` label is empty.
 */
@Injectable()
export class AlertGauges {
  constructor(dataSource: DataSource) {
    new Gauge({
      name: 'hms_alerts_open',
      help: 'Alerts open or acknowledged (not yet resolved), by pool, kind and status',
      labelNames: ['pool', 'kind', 'status'],
      registers: [metricsRegistry],
      async collect() {
        const rows = (await dataSource.query(
          `SELECT coalesce("pool", '') AS "pool", "kind", "status", count(*)::int AS "alerts" FROM "ops"."alerts" WHERE "status" <> 'resolved' GROUP BY 1, 2, 3`,
        )) as Array<{ pool: string; kind: string; status: string; alerts: number }>;
        this.reset();
        for (const row of rows) this.set({ pool: row.pool, kind: row.kind, status: row.status }, row.alerts);
      },
    });
  }
}
