import type { BackgroundJob } from '@hms/platform';
import type { Logger } from 'pino';
import { PeriodicJob } from '../common/periodic-job';
import type { LeaseReclaimer } from '../leases/lease-reclaimer';
import type { OmsConfig } from '../oms.config';

/**
 * Requeues the leases of workers silent for longer than OMS_WORKER_LIVENESS_SECONDS. Checked
 * six times per liveness window (between 0.5 s and 10 s), so a gone worker's tasks come back
 * at most ~17 % after the window, without querying more often than that precision needs.
 */
export function workerLivenessJob(reclaimer: LeaseReclaimer, config: OmsConfig, logger: Logger): BackgroundJob {
  const intervalMs = Math.min(10_000, Math.max(500, Math.round((config.OMS_WORKER_LIVENESS_SECONDS * 1000) / 6)));
  return new PeriodicJob('worker-liveness', intervalMs, () => reclaimer.reclaimFromGoneWorkers(), logger);
}
