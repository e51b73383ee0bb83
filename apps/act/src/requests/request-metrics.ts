import { Histogram } from 'prom-client';
import { metricsRegistry } from '@hms/platform';

/** Single creates per statement (group commit): near 1 when idle, larger under load. */
export const createBatchSize = new Histogram({
  name: 'hms_act_create_batch_size',
  help: 'Single request creates written together in one statement by this ACT replica',
  buckets: [1, 2, 5, 10, 20, 50, 100, 200],
  registers: [metricsRegistry],
});
