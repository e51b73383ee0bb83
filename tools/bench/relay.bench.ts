import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { createDataSource, eventTablesUpSql, EventOutbox, NatsBus, systemClock } from '@hms/platform';
import { uniqueSubjectPrefix } from '@hms/testing';
import { benchInfra, formatNumber, printTable } from './bench-support';

/** Events written per outbox transaction in each run; 1 is the idle path, 40 about what the OMS bench sees. */
const BATCH_SIZES = [1, 5, 40, 500];

/**
 * The outbox relay alone (EventOutbox.relayBatch, libs/platform): events are written in
 * transactions of N, and after each the relay publishes them to JetStream and deletes them. Per
 * relay run: wall time and this process's CPU. Every service runs the relay after nearly every
 * transaction, so this is a fixed cost of each change.
 */
export async function relayBench(options: { events: number }): Promise<void> {
  const bench = await benchInfra();
  const database = await bench.freshDatabase('relay');
  const bus = await NatsBus.connect(bench.infra.natsUrl, uniqueSubjectPrefix('r'), 'relay-bench');
  const dataSource = createDataSource({ url: database.url, schema: 'relay', entities: [], migrations: [] });
  try {
    await bus.ensureEventStream();
    await dataSource.initialize();
    await dataSource.query('CREATE SCHEMA relay');
    for (const sql of eventTablesUpSql('relay')) await dataSource.query(sql);
    const outbox = new EventOutbox(dataSource, bus, 'relay', 'ops', systemClock, pino({ level: 'silent' }));
    const rows: Array<Array<string | number>> = [];
    for (const batch of BATCH_SIZES) {
      // Small batches are slow per event: a fifth of the events is enough for a stable figure.
      const events = batch >= 40 ? options.events : Math.round(options.events / 5);
      let relayed = 0;
      let runs = 0;
      let wallMs = 0;
      let cpuMs = 0;
      while (relayed < events) {
        await outbox.transaction(async (_tx, emit) => {
          for (let i = 0; i < batch; i += 1) emit('oms.pool.updated', null, { pool: `p${i}` }, 'bench');
        });
        const cpuBefore = process.cpuUsage();
        const started = performance.now();
        relayed += await outbox.relayBatch();
        wallMs += performance.now() - started;
        const cpu = process.cpuUsage(cpuBefore);
        cpuMs += (cpu.user + cpu.system) / 1000;
        runs += 1;
      }
      rows.push([String(batch), relayed, formatNumber(wallMs / runs), formatNumber(cpuMs / runs), formatNumber((1000 * wallMs) / relayed)]);
    }
    printTable('outbox relay: publish to JetStream and delete, per relay run', ['events per transaction', 'events relayed', 'wall ms per run', 'relay process CPU ms per run', 'µs per event'], rows);
  } finally {
    if (dataSource.isInitialized) await dataSource.destroy();
    await bus.close();
    await database.drop();
    await bench.stop();
  }
}
