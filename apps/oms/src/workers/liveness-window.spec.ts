import { WORKER_LIVENESS_LIMITS } from '@hms/contracts';
import {
  effectiveLivenessSeconds,
  lastSeenResolutionMs,
  livenessCheckIntervalMs,
  longPollLookMs,
  presenceConfirmMs,
  silentBefore,
  smallestLivenessSeconds,
  smallestPossibleLivenessSeconds,
} from './liveness-window';

describe(effectiveLivenessSeconds.name, () => {
  it.each([
    [30, 60, 30],
    [600, 60, 600],
    [null, 60, 60],
    [undefined, 45, 45],
  ])('takes the pool window %p over the default %p: %p', (own, fallback, expected) => {
    expect(effectiveLivenessSeconds(own, fallback)).toBe(expected);
  });
});

describe(smallestLivenessSeconds.name, () => {
  const stored = new Map<string, number | null>([
    ['fast', 10],
    ['slow', 3600],
    ['plain', null],
  ]);

  it.each([
    [['fast', 'slow', 'plain'], 10],
    [['slow'], 3600],
    [['slow', 'plain'], 60], // a pool without a window counts with the default
    [['slow', 'not-created-yet'], 60], // so does one that does not exist yet
    [['plain'], 60],
    [[], 60],
  ])('answers the smallest effective window of %p: %p', (pools, expected) => {
    expect(smallestLivenessSeconds(pools, stored, 60)).toBe(expected);
  });
});

describe(smallestPossibleLivenessSeconds.name, () => {
  it.each([
    [60, WORKER_LIVENESS_LIMITS.minSeconds],
    [10, 10],
    [3, 3], // a default below the pools' minimum is the smallest
    [1, 1],
  ])('is the default or the pools minimum, whichever is smaller: default %p → %p', (fallback, expected) => {
    expect(smallestPossibleLivenessSeconds(fallback)).toBe(expected);
  });
});

describe(presenceConfirmMs.name, () => {
  it.each([
    [60, 5_000],
    [86_400, 5_000],
    [10, 5_000],
    [4, 2_000],
    [1, 500],
  ])('is half of the smallest possible window: default %p s → %p ms', (fallback, expected) => {
    expect(presenceConfirmMs(fallback)).toBe(expected);
  });

  it('stays below the shortest window a pool may set, whatever the default', () => {
    for (const fallback of [1, 9, 10, 11, 60, 3600, 86_400]) expect(presenceConfirmMs(fallback)).toBeLessThan(WORKER_LIVENESS_LIMITS.minSeconds * 1000);
  });
});

describe(livenessCheckIntervalMs.name, () => {
  it.each([
    [60, 1_667], // a sixth of the 10 s a pool may set, not of the 60 s default
    [86_400, 1_667],
    [10, 1_667],
    [6, 1_000],
    [1, 500], // clamped: never more often than every 0.5 s
  ])('checks six times per smallest possible window: default %p s → every %p ms', (fallback, expected) => {
    expect(livenessCheckIntervalMs(fallback)).toBe(expected);
  });
});

describe(longPollLookMs.name, () => {
  it.each([
    [2000, 3600, 2000],
    [60_000, 3600, 5000],
    [60_000, 10, 5000],
    [60_000, 4, 2000],
  ])('lets a parked worker be seen twice within the smallest window: recheck %p ms, default %p s → %p ms', (recheckMs, fallback, expected) => {
    expect(longPollLookMs(recheckMs, fallback)).toBe(expected);
    expect(2 * longPollLookMs(recheckMs, fallback)).toBeLessThanOrEqual(smallestPossibleLivenessSeconds(fallback) * 1000);
  });
});

describe(lastSeenResolutionMs.name, () => {
  it.each([
    [60, 500],
    [3600, 500],
    [1, 50],
  ])('with a default window of %p s, keeps last seen to %p ms: a twentieth of the smallest possible window', (fallback, expected) => {
    expect(lastSeenResolutionMs(fallback)).toBe(expected);
  });

  it('stays well inside every window a pool may have, and at most 1 s', () => {
    for (const fallback of [1, 10, 60, 86_400]) {
      expect(lastSeenResolutionMs(fallback)).toBeLessThanOrEqual(Math.min(1000, (smallestPossibleLivenessSeconds(fallback) * 1000) / 20));
    }
  });

  it('moves the silence checks back by the resolution', () => {
    expect(silentBefore(new Date('2026-01-01T00:00:10.000Z'), 60)).toEqual(new Date('2026-01-01T00:00:09.500Z'));
  });
});
