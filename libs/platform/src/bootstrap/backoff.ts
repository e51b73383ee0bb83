/** How a retry loop spaces its attempts. */
export interface BackoffPolicy {
  /** Delay before the first retry. */
  initialMs: number;
  /** The delay doubles per failed attempt up to this. */
  maxMs: number;
  /** A run that lasted this long before it failed counts as a fresh start: the delay goes back to `initialMs`. */
  resetAfterMs?: number;
}

/** The delay before retry number `attempt` (0 for the first): `initialMs` doubling, at most `maxMs`. */
export function backoffDelayMs(policy: BackoffPolicy, attempt: number): number {
  return Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(Math.max(attempt, 0), 30));
}

/** Exponential backoff with a cap, reset by success (or by a run that lasted `resetAfterMs`). */
export class Backoff {
  private attempt = 0;

  constructor(readonly policy: BackoffPolicy) {}

  /** The delay before the next attempt, after one that failed having run for `ranForMs`. */
  next(ranForMs = 0): number {
    if (this.policy.resetAfterMs !== undefined && ranForMs >= this.policy.resetAfterMs) this.attempt = 0;
    return backoffDelayMs(this.policy, this.attempt++);
  }

  /** How many attempts have failed in a row (since the last reset). */
  get failures(): number {
    return this.attempt;
  }

  reset(): void {
    this.attempt = 0;
  }
}
