import type { AlertStatus } from '@hms/contracts';

/** What a person (or the system) can do to an alert. */
export type AlertAction = 'acknowledge' | 'resolve';

/** The status an action leads to; `unchanged` when it is already so (a repeat), `refused` when it cannot apply. */
export type AlertTransition = AlertStatus | 'unchanged' | 'refused';

/**
 * The alert lifecycle on one screen: `open → acknowledged → resolved`, or `open → resolved`.
 * Acknowledging stops the escalation clock (only an open alert escalates); resolved is final.
 * Repeating an action is a no-op, so a retried call answers like the first.
 */
export function alertTransition(status: AlertStatus, action: AlertAction): AlertTransition {
  if (action === 'acknowledge') {
    if (status === 'open') return 'acknowledged';
    return status === 'acknowledged' ? 'unchanged' : 'refused';
  }
  return status === 'resolved' ? 'unchanged' : 'resolved';
}

/** Only an alert nobody has acknowledged yet runs its pool's escalation when it falls due. */
export function escalates(status: AlertStatus): boolean {
  return status === 'open';
}

/** A webhook delivery is tried this many times before it is marked failed. */
export const WEBHOOK_MAX_ATTEMPTS = 8;

/** Wait after the n-th failed delivery: 5 s doubling, at most 5 minutes (about 11 minutes in all). */
export function webhookRetryDelaySeconds(failedAttempts: number): number {
  return Math.min(300, 5 * 2 ** Math.max(0, failedAttempts - 1));
}
