import { DEFAULT_MAX_LEASE_SECONDS } from '@hms/contracts';

/**
 * The lease length a caller asked for (a lease's `leaseSeconds`, a heartbeat's `extendSeconds`),
 * cut to what the pool allows: its `max_lease_seconds` (DEFAULT_MAX_LEASE_SECONDS when null), or
 * the task's own lease length when that is longer (a plan may give a step a long lease; asking
 * for it is not asking for more). NULL when nothing was asked, so the caller's COALESCE falls
 * back to the task's own length. The one place this rule is written; every statement that grants
 * or extends a lease inlines it.
 */
export function cappedLeaseSecondsSql(asked: string, poolMax: string, taskLeaseSeconds: string): string {
  return `CASE WHEN ${asked} IS NULL THEN NULL ELSE LEAST(${asked}, GREATEST(COALESCE(${poolMax}, ${DEFAULT_MAX_LEASE_SECONDS}), ${taskLeaseSeconds})) END`;
}
