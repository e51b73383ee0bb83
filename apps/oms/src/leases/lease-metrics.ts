import { Counter, Histogram } from 'prom-client';
import { metricsRegistry } from '@hms/platform';

/** Leases handed out by this replica (OPS owns the fleet-wide gauges; this is OMS's own view). */
export const leasesGranted = new Counter({
  name: 'hms_oms_leases_granted_total',
  help: 'Leases granted by this OMS replica',
  labelNames: ['pool'],
  registers: [metricsRegistry],
});

/**
 * Of those, leases granted by the statement that queued the task, to a lease call parked in a
 * long poll on this replica (the idle pickup path, no lease statement of its own).
 */
export const leasesHandedOff = new Counter({
  name: 'hms_oms_leases_handed_off_total',
  help: 'Leases granted by the statement that queued the task, to a long-polling lease call parked on this OMS replica',
  labelNames: ['pool'],
  registers: [metricsRegistry],
});

/** Completions per transaction (group commit): near 1 when idle, larger under load. */
export const completionBatchSize = new Histogram({
  name: 'hms_oms_completion_batch_size',
  help: 'Task completions committed together in one transaction by this OMS replica',
  buckets: [1, 2, 5, 10, 20, 50, 100, 200],
  registers: [metricsRegistry],
});
