import { Injectable } from '@nestjs/common';
import type { AnyHmsEvent, PoolMetrics } from '@hms/contracts';
import { metricsRegistry } from '@hms/platform';
import { Counter, Gauge, Histogram } from 'prom-client';
import { PoolMetricsService } from './pool-metrics.service';

/**
 * The per-pool Prometheus series. Gauges are read from Postgres at scrape time (one query per
 * scrape, shared by all gauges), so every OPS replica reports the same truth; counters and the
 * wait histogram count the events this replica applied, which Prometheus sums across replicas.
 */
@Injectable()
export class PoolGauges {
  private snapshotCache?: { at: number; value: Promise<PoolMetrics[]> };
  private readonly completed: Counter<'pool'>;
  private readonly failed: Counter<'pool'>;
  private readonly slaBreaches: Counter<'pool'>;
  private readonly waitSeconds: Histogram<'pool'>;

  constructor(private readonly metrics: PoolMetricsService) {
    const snapshot = () => this.cachedSnapshot();
    const gauge = (name: string, help: string, pick: (m: PoolMetrics) => number | null) =>
      new Gauge({
        name,
        help,
        labelNames: ['pool'],
        registers: [metricsRegistry],
        async collect() {
          this.reset();
          for (const pool of await snapshot()) {
            const value = pick(pool);
            if (value !== null) this.set({ pool: pool.pool }, value);
          }
        },
      });
    gauge('hms_tasks_queued', 'Tasks waiting in the pool', (m) => m.depth);
    // The same depth under a name the users' own tip finds: `watch "curl /metrics | grep task_"`.
    gauge('hms_task_queue_depth', 'Tasks waiting in the pool (hms_tasks_queued, named for grep task_)', (m) => m.depth);
    gauge('hms_tasks_leased', 'Tasks leased by a worker', (m) => m.leased);
    gauge('hms_oldest_task_wait_seconds', 'Age of the oldest queued task', (m) => m.oldestWaitSeconds);
    gauge('hms_workers_online', 'Workers online in the pool (leasing there and not declared gone)', (m) => m.workersOnline);
    gauge('hms_desired_replicas', 'Replicas the autoscaling policy asks for', (m) => m.desiredReplicas);
    this.completed = new Counter({ name: 'hms_task_completed_total', help: 'Tasks completed', labelNames: ['pool'], registers: [metricsRegistry] });
    this.failed = new Counter({ name: 'hms_task_failed_total', help: 'Failed task attempts', labelNames: ['pool'], registers: [metricsRegistry] });
    this.slaBreaches = new Counter({ name: 'hms_sla_breaches_total', help: 'SLA breaches', labelNames: ['pool'], registers: [metricsRegistry] });
    this.waitSeconds = new Histogram({
      name: 'hms_task_wait_seconds',
      help: 'Time from queued to leased',
      labelNames: ['pool'],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14400, 86400],
      registers: [metricsRegistry],
    });
  }

  /** Counts an event this replica has applied. */
  record(event: AnyHmsEvent): void {
    switch (event.type) {
      case 'oms.task.completed':
        this.completed.inc({ pool: event.data.pool });
        return;
      case 'oms.task.failed':
        this.failed.inc({ pool: event.data.pool });
        return;
      case 'oms.task.sla-breached':
        this.slaBreaches.inc({ pool: event.data.pool });
        return;
      case 'oms.task.leased':
        this.waitSeconds.observe({ pool: event.data.pool }, event.data.waitedMs / 1000);
        return;
      default:
        return;
    }
  }

  private cachedSnapshot(): Promise<PoolMetrics[]> {
    const now = Date.now();
    if (!this.snapshotCache || now - this.snapshotCache.at > 1000) {
      this.snapshotCache = { at: now, value: this.metrics.snapshot() };
    }
    return this.snapshotCache.value;
  }
}
