import { PeriodicJob, type BackgroundJob } from '@hms/platform';
import type { Logger } from 'pino';
import type { LeaseReclaimer } from '../leases/lease-reclaimer';
import type { OmsConfig } from '../oms.config';
import type { WorkerPresence } from './worker-presence';

/**
 * Requeues the leases of workers silent for longer than OMS_WORKER_LIVENESS_SECONDS and declares
 * them gone from their pools. Checked six times per liveness window (between 0.5 s and 10 s), so
 * a gone worker's tasks come back at most ~17 % after the window, without querying more often
 * than that precision needs.
 */
export function workerLivenessJob(reclaimer: LeaseReclaimer, presence: WorkerPresence, config: OmsConfig, logger: Logger): BackgroundJob {
  const intervalMs = Math.min(10_000, Math.max(500, Math.round((config.OMS_WORKER_LIVENESS_SECONDS * 1000) / 6)));
  return new PeriodicJob(
    'worker-liveness',
    intervalMs,
    async () => {
      const leases = await reclaimer.reclaimFromGoneWorkers();
      const pools = await presence.markGone();
      return { full: leases.full || pools.full };
    },
    logger,
  );
}
