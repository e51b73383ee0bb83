import { Backoff, backoffDelayMs } from './backoff';

describe(Backoff.name, () => {
  const policy = { initialMs: 500, maxMs: 30_000, resetAfterMs: 60_000 };

  it.each([
    [0, 500],
    [1, 1000],
    [2, 2000],
    [5, 16_000],
    [6, 30_000],
    [1000, 30_000],
    [-1, 500],
  ])('waits %i attempts in: %i ms (doubling, capped)', (attempt, delay) => {
    expect(backoffDelayMs(policy, attempt)).toBe(delay);
  });

  it('doubles per failure that follows a short run', () => {
    const backoff = new Backoff(policy);
    expect([backoff.next(10), backoff.next(10), backoff.next(10), backoff.next(10)]).toEqual([500, 1000, 2000, 4000]);
    expect(backoff.failures).toBe(4);
  });

  it('starts again from the initial delay after a run that lasted the stable period', () => {
    const backoff = new Backoff(policy);
    for (let i = 0; i < 8; i += 1) backoff.next(0);
    expect(backoff.next(59_999)).toBe(30_000);
    expect(backoff.next(60_000)).toBe(500);
    expect(backoff.next(0)).toBe(1000);
  });

  it('starts again after reset()', () => {
    const backoff = new Backoff({ initialMs: 250, maxMs: 5000 });
    backoff.next();
    backoff.next();
    backoff.reset();
    expect(backoff.next()).toBe(250);
  });

  it('never resets on run time without a stable period', () => {
    const backoff = new Backoff({ initialMs: 250, maxMs: 5000 });
    backoff.next(Number.MAX_SAFE_INTEGER);
    expect(backoff.next(Number.MAX_SAFE_INTEGER)).toBe(500);
  });
});
