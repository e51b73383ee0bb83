import type { PoolMetrics } from '@hms/contracts';
import { metricsOf } from './ops-client';

const snapshot: PoolMetrics = {
  pool: 'farm-grant',
  depth: 42,
  leased: 3,
  oldestWaitSeconds: 610,
  waitP50Seconds: 6.9830000000000005,
  waitP95Seconds: null,
  throughputPerMinute: 7,
  successRate: 0.9921,
  workersOnline: 4,
  desiredReplicas: null,
  updatedAt: '2026-06-10T10:00:00.000Z',
};

describe('metricsOf', () => {
  it('names each reading of a snapshot and leaves out those OPS does not have yet', () => {
    expect(metricsOf(snapshot).map(({ name, value }) => [name, value])).toEqual([
      ['queue.length', 42],
      ['queue.leased', 3],
      ['queue.waitTime', 610],
      ['queue.waitP50', 6.983],
      ['queue.throughputPerMinute', 7],
      ['worker.successRate', 99.2],
      ['worker.online', 4],
    ]);
  });

  it('tags every reading with its queue and time', () => {
    expect(metricsOf(snapshot)[0]).toEqual({ name: 'queue.length', value: 42, queue: 'farm-grant', at: '2026-06-10T10:00:00.000Z' });
  });
});
