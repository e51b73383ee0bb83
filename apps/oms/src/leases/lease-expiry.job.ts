import { PeriodicJob, type BackgroundJob } from '@hms/platform';
import type { Logger } from 'pino';
import type { OmsConfig } from '../oms.config';
import type { LeaseReclaimer } from './lease-reclaimer';

/**
 * Every OMS_LEASE_SWEEP_MS, requeues leases past their deadline. Runs on every replica: the
 * sweep's SKIP LOCKED lets them share the work, and any one of them alone keeps leases honest.
 */
export function leaseExpiryJob(reclaimer: LeaseReclaimer, config: OmsConfig, logger: Logger): BackgroundJob {
  return new PeriodicJob('lease-expiry', config.OMS_LEASE_SWEEP_MS, () => reclaimer.reclaimExpired(), logger);
}
