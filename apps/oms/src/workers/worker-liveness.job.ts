import { PeriodicJob, type BackgroundJob } from '@hms/platform';
import type { Logger } from 'pino';
import type { LeaseReclaimer } from '../leases/lease-reclaimer';
import type { OmsConfig } from '../oms.config';
import { livenessCheckIntervalMs } from './liveness-window';
import type { WorkerPresence } from './worker-presence';

/**
 * Requeues the leases of workers silent for longer than their pool's liveness window and declares
 * them gone from those pools. The interval follows the smallest window any pool can have, not the
 * default, because a pool may set a window as short as 10 s at any time without a restart (see
 * livenessCheckIntervalMs). With any default of 10 s or more that is every ~1.7 s (it was 10 s
 * with the 60 s default): two index-driven statements that usually find nothing.
 */
export function workerLivenessJob(reclaimer: LeaseReclaimer, presence: WorkerPresence, config: OmsConfig, logger: Logger): BackgroundJob {
  const intervalMs = livenessCheckIntervalMs(config.OMS_WORKER_LIVENESS_SECONDS);
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
