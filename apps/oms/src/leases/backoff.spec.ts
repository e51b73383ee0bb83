import { backoffDelayMs, effectiveRetryPolicy, RETRY_BACKOFF_DEFAULTS, type EffectiveRetryPolicy } from './backoff';

const policy: EffectiveRetryPolicy = { attempts: 10, backoffSeconds: 2, backoffFactor: 3, maxBackoffSeconds: 100 };
const middle = () => 0.5; // no jitter
const lowest = () => 0; // -10 %
const highest = () => 0.999999; // +10 %

describe(backoffDelayMs.name, () => {
  it.each([
    [1, 2_000],
    [2, 6_000],
    [3, 18_000],
    [4, 54_000],
    [5, 100_000], // 162 s capped at 100 s
    [9, 100_000],
  ])('waits backoffSeconds * factor^(n-1) after attempt %i: %i ms', (failedAttempt, ms) => {
    expect(backoffDelayMs(policy, failedAttempt, middle)).toBe(ms);
  });

  it('adds at most ±10 % jitter', () => {
    expect(backoffDelayMs(policy, 2, lowest)).toBe(5_400);
    expect(backoffDelayMs(policy, 2, highest)).toBe(6_600);
    for (let i = 0; i < 200; i++) {
      const ms = backoffDelayMs(policy, 2);
      expect(ms).toBeGreaterThanOrEqual(5_400);
      expect(ms).toBeLessThanOrEqual(6_600);
    }
  });

  it('never exceeds maxBackoffSeconds, even with jitter', () => {
    expect(backoffDelayMs(policy, 7, highest)).toBe(100_000);
    expect(backoffDelayMs(policy, 7, lowest)).toBe(90_000);
  });

  it('retries at once when backoffSeconds is 0, whatever the factor', () => {
    expect(backoffDelayMs({ ...policy, backoffSeconds: 0, backoffFactor: 1e300 }, 50, highest)).toBe(0);
  });

  it('stays constant with factor 1 and treats attempt 0 like attempt 1', () => {
    expect(backoffDelayMs({ ...policy, backoffFactor: 1 }, 6, middle)).toBe(2_000);
    expect(backoffDelayMs(policy, 0, middle)).toBe(2_000);
  });
});

describe(effectiveRetryPolicy.name, () => {
  it('takes the step policy when given', () => {
    expect(effectiveRetryPolicy({ attempts: 5, backoffSeconds: 1, backoffFactor: 1.5, maxBackoffSeconds: 9 }, 3)).toEqual({
      attempts: 5,
      backoffSeconds: 1,
      backoffFactor: 1.5,
      maxBackoffSeconds: 9,
    });
  });

  it("falls back to the pool's attempts and the default backoff", () => {
    expect(effectiveRetryPolicy(null, 4)).toEqual({ attempts: 4, ...RETRY_BACKOFF_DEFAULTS });
    expect(effectiveRetryPolicy({ attempts: 2 }, 4)).toEqual({ attempts: 2, ...RETRY_BACKOFF_DEFAULTS });
  });
});
