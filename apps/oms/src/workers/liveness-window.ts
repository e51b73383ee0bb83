import { WORKER_LIVENESS_LIMITS } from '@hms/contracts';

/** A pool's liveness window: its own, or the service default when it has none. */
export function effectiveLivenessSeconds(poolSeconds: number | null | undefined, defaultSeconds: number): number {
  return poolSeconds ?? defaultSeconds;
}

/**
 * The window a worker working all of `pools` must call within: the smallest of theirs. A pool
 * missing from `stored` (not created yet) counts with the default, as it will when created.
 */
export function smallestLivenessSeconds(pools: readonly string[], stored: ReadonlyMap<string, number | null>, defaultSeconds: number): number {
  let smallest = Number.POSITIVE_INFINITY;
  for (const pool of pools) smallest = Math.min(smallest, effectiveLivenessSeconds(stored.get(pool), defaultSeconds));
  return Number.isFinite(smallest) ? smallest : defaultSeconds;
}

/**
 * The smallest window any pool can have at all: the default, or the lowest a pool may set.
 * What must hold for every window (cache TTLs, check intervals) is sized from this, so it holds
 * without knowing which pools exist.
 */
export function smallestPossibleLivenessSeconds(defaultSeconds: number): number {
  return Math.min(defaultSeconds, WORKER_LIVENESS_LIMITS.minSeconds);
}

/**
 * How long a replica may skip writing a (worker, pool) pair it has confirmed. It must stay below
 * every pool's window: a worker is declared gone (its pair deleted) only after a whole window of
 * silence, so its first call back then finds the cache entry expired, writes the pair again and
 * is announced online. With a TTL of half the default (30 s) and a 10 s pool, a worker back after
 * 12 s would hit the cache and stay offline while working. Half of the smallest possible window
 * keeps the margin the single global window had (half of it).
 */
export function presenceConfirmMs(defaultSeconds: number): number {
  return halfSmallestWindowMs(defaultSeconds);
}

/**
 * How often silent workers are looked for: six times per smallest possible window (so a gone
 * worker's tasks come back at most ~17 % after the shortest window), never more often than every
 * 0.5 s nor less often than every 10 s.
 */
export function livenessCheckIntervalMs(defaultSeconds: number): number {
  return Math.min(10_000, Math.max(500, Math.round((smallestPossibleLivenessSeconds(defaultSeconds) * 1000) / 6)));
}

/**
 * How long a parked long poll waits between looks: the recheck setting, but never more than half
 * of the smallest possible window. Each look is the lease statement, which also moves the
 * worker's last_seen_at: a worker waiting in a call is not silent, and must not be declared gone
 * (its other leases requeued) however long it waits or however high the recheck is set.
 */
export function longPollLookMs(recheckMs: number, defaultSeconds: number): number {
  return Math.min(recheckMs, halfSmallestWindowMs(defaultSeconds));
}

/**
 * How fresh a worker's last_seen_at may be for a lease or complete to leave it as it is: a
 * twentieth of the smallest possible window, at most 1 s (500 ms with the 60 s default). A worker
 * at work calls many times a second, and rewriting its row on each call (a row lock and a new row
 * version, a sixth of a lease's WAL) bought nothing the liveness checks can see. So the stored
 * time may trail the worker's latest call by up to this much, and the gone-worker checks allow
 * that much more silence (see lease-reclaim.sql.ts, WorkerPresence.markGone): a worker is still
 * declared gone only after a whole window without a call, at most this much later than before.
 */
export function lastSeenResolutionMs(defaultSeconds: number): number {
  return Math.min(1000, (smallestPossibleLivenessSeconds(defaultSeconds) * 1000) / 20);
}

/** The time a worker must have been last seen before to have been silent for a window ending at `now`, given {@link lastSeenResolutionMs}. */
export function silentBefore(now: Date, defaultSeconds: number): Date {
  return new Date(now.getTime() - lastSeenResolutionMs(defaultSeconds));
}

/** Half of the smallest window any pool can have: what happens this often happens twice per window. */
function halfSmallestWindowMs(defaultSeconds: number): number {
  return (smallestPossibleLivenessSeconds(defaultSeconds) * 1000) / 2;
}
