import type { RetryPolicy } from '@hms/contracts';

/** A step's retry policy with every field filled in, as stored on the task. */
export interface EffectiveRetryPolicy {
  attempts: number;
  backoffSeconds: number;
  backoffFactor: number;
  maxBackoffSeconds: number;
}

/**
 * Backoff when a step gives only `attempts` (or no retry at all). Exponential from 10 s and
 * capped at an hour, so a flapping dependency is not hammered and a task is never parked for
 * longer than a human would notice.
 */
export const RETRY_BACKOFF_DEFAULTS = { backoffSeconds: 10, backoffFactor: 2, maxBackoffSeconds: 3600 } as const;

/** Spread of the jitter around the computed delay (±10 %), so retries of a burst do not align. */
export const BACKOFF_JITTER = 0.1;

/** The step's retry policy completed with the pool's attempts and the default backoff. */
export function effectiveRetryPolicy(step: RetryPolicy | null | undefined, poolMaxAttempts: number): EffectiveRetryPolicy {
  return {
    attempts: step?.attempts ?? poolMaxAttempts,
    backoffSeconds: step?.backoffSeconds ?? RETRY_BACKOFF_DEFAULTS.backoffSeconds,
    backoffFactor: step?.backoffFactor ?? RETRY_BACKOFF_DEFAULTS.backoffFactor,
    maxBackoffSeconds: step?.maxBackoffSeconds ?? RETRY_BACKOFF_DEFAULTS.maxBackoffSeconds,
  };
}

/**
 * Wait in milliseconds before the attempt after `failedAttempt` (1 = the first attempt failed):
 * `backoffSeconds * factor^(failedAttempt-1)`, capped by `maxBackoffSeconds`, then ±10 % jitter
 * (still capped). `random` is injectable so the result is testable; it must return [0, 1).
 */
export function backoffDelayMs(policy: EffectiveRetryPolicy, failedAttempt: number, random: () => number = Math.random): number {
  const exponent = Math.max(0, failedAttempt - 1);
  const maxMs = Math.max(0, policy.maxBackoffSeconds) * 1000;
  const firstMs = Math.max(0, policy.backoffSeconds) * 1000;
  // A zero first wait stays zero (0 * Infinity would be NaN for an absurd factor).
  const baseMs = firstMs === 0 ? 0 : Math.min(firstMs * Math.pow(Math.max(1, policy.backoffFactor), exponent), maxMs);
  const jitter = 1 + (random() * 2 - 1) * BACKOFF_JITTER;
  return Math.round(Math.min(baseMs * jitter, maxMs));
}
