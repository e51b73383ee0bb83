import type { EntityManager } from 'typeorm';
import { queryRows } from '../database/query-rows';
import { silentBefore, smallestPossibleLivenessSeconds } from '../workers/liveness-window';

export interface ReclaimedRow {
  id: string;
  request_id: string;
  step_id: string;
  pool: string;
  tags: string[];
  status: 'queued' | 'dead';
  attempt: number;
  lease_id: string;
  holder: string;
}

/** At most this many leases are reclaimed per statement; the job loops while batches are full. */
export const RECLAIM_BATCH = 500;

/*
 * Takes back leases whose holder lost them. The attempt the lease started stays counted: if it
 * was the last one the task is dead, otherwise it is queued again at once (the same rule as
 * expiryEvent() in task.state.ts, written here in SQL so a batch is one statement).
 *
 * Locking: `FOR UPDATE SKIP LOCKED` in the picking CTE, so replicas sweeping at the same time
 * split the work instead of waiting on each other, and a lease whose holder is completing or
 * heartbeating right now (row locked) is left alone; if that call succeeds, the lease is no
 * longer due, and if not, the next sweep takes it.
 */
const reclaimSql = (picking: string) => `
WITH lost AS MATERIALIZED (${picking}),
changed AS (
  UPDATE oms.tasks AS t SET
    status = CASE WHEN t.attempt < t.max_attempts THEN 'queued' ELSE 'dead' END,
    worker = CASE WHEN t.attempt < t.max_attempts THEN NULL ELSE t.worker END,
    last_error = $3::jsonb,
    lease_token = NULL,
    lease_expires_at = NULL,
    lease_duration_seconds = NULL,
    available_at = CASE WHEN t.attempt < t.max_attempts THEN $1::timestamptz ELSE t.available_at END,
    queued_at = CASE WHEN t.attempt < t.max_attempts THEN $1::timestamptz ELSE t.queued_at END,
    updated_at = $1::timestamptz
  FROM lost
  WHERE t.id = lost.id
  RETURNING t.id, t.request_id, t.step_id, t.pool, t.tags, t.status, t.attempt, t.lease_id, lost.worker AS holder
)
SELECT * FROM changed`;

/*
 * Leases past their deadline. Index: `tasks_lease_expiry_idx` (lease_expires_at) WHERE leased,
 * read from the oldest deadline up to now.
 */
const EXPIRED_SQL = reclaimSql(`
  SELECT id, worker FROM oms.tasks
  WHERE status = 'leased' AND lease_expires_at <= $1::timestamptz
  ORDER BY lease_expires_at
  LIMIT $2
  FOR UPDATE SKIP LOCKED`);

/*
 * Leases of workers silent for longer than the liveness window of the task's pool: the pool's
 * own, or $4 (OMS_WORKER_LIVENESS_SECONDS) when it has none; the outer join keeps a task whose
 * pool row is missing on the default.
 *
 * Index: the join starts from the workers that may be gone somewhere and reaches their leases
 * by `tasks_worker_leased_idx` (worker) WHERE leased (or, when many workers qualify, reads the
 * leased tasks through a partial index on them and hash-joins), then each task's pool by primary
 * key; the tasks table is never scanned, only its rows are locked.
 *
 * Silence is measured up to $6, now minus lastSeenResolutionMs: a lease or complete leaves a
 * last_seen_at that recent as it is, so the worker may have called up to that much after it.
 *
 * Two bounds on last_seen_at narrow the workers first. $5 (now minus the smallest window any
 * pool can have) is a constant, so the planner can estimate it from the column statistics. The
 * sub-select, the smallest window any pool has right now (one read of the small pools table), is
 * the tight one: without it, every case-worker silent for more than 10 s between two task
 * heartbeats would have all its leases read and filtered out at every check, even when no pool
 * sets a short window. EXPLAIN ANALYZE on
 * 1M tasks (50k leased), 20k workers, 200 pools: with 1 % of the workers gone, a batch of 500 in
 * ~15 ms (picking ~2 ms); with 80 % of the workers 10-50 s silent and no pool with a window of
 * its own, ~2 ms (80 ms with the constant bound alone).
 */
const GONE_WORKERS_SQL = reclaimSql(`
  SELECT t.id, t.worker FROM oms.tasks AS t
  JOIN oms.workers AS w ON w.id = t.worker
  LEFT JOIN oms.pools AS p ON p.name = t.pool
  WHERE t.status = 'leased'
    AND w.last_seen_at < $5::timestamptz
    AND w.last_seen_at < $6::timestamptz - (SELECT LEAST(min(worker_liveness_seconds), $4::int) FROM oms.pools) * interval '1 second'
    AND w.last_seen_at < $6::timestamptz - COALESCE(p.worker_liveness_seconds, $4::int) * interval '1 second'
  LIMIT $2
  FOR UPDATE OF t SKIP LOCKED`);

/** Requeues (or kills, when attempts are spent) leases whose deadline has passed. */
export function reclaimExpiredLeases(tx: EntityManager, now: Date, limit = RECLAIM_BATCH): Promise<ReclaimedRow[]> {
  const error = { message: 'The lease expired before the task was completed', code: 'LEASE_EXPIRED' };
  return queryRows<ReclaimedRow>(tx, EXPIRED_SQL, [now, limit, JSON.stringify(error)]);
}

/**
 * Requeues (or kills) the leases held by workers silent for longer than their task's pool
 * window, `defaultSeconds` for a pool without one.
 */
export function reclaimLeasesOfGoneWorkers(tx: EntityManager, now: Date, defaultSeconds: number, limit = RECLAIM_BATCH): Promise<ReclaimedRow[]> {
  const error = { message: 'The worker holding the lease stopped answering', code: 'WORKER_GONE' };
  const before = silentBefore(now, defaultSeconds);
  const silentSinceAtLeast = new Date(before.getTime() - smallestPossibleLivenessSeconds(defaultSeconds) * 1000);
  return queryRows<ReclaimedRow>(tx, GONE_WORKERS_SQL, [now, limit, JSON.stringify(error), defaultSeconds, silentSinceAtLeast, before]);
}
