import type { EntityManager } from 'typeorm';
import { queryRows } from '../database/query-rows';

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
 * Leases of workers silent since before $4. Index: `tasks_worker_leased_idx` (worker) WHERE
 * leased, joined to the workers by primary key; only rows of the tasks table are locked.
 */
const GONE_WORKERS_SQL = reclaimSql(`
  SELECT t.id, t.worker FROM oms.tasks AS t
  JOIN oms.workers AS w ON w.id = t.worker
  WHERE t.status = 'leased' AND w.last_seen_at < $4::timestamptz
  LIMIT $2
  FOR UPDATE OF t SKIP LOCKED`);

/** Requeues (or kills, when attempts are spent) leases whose deadline has passed. */
export function reclaimExpiredLeases(tx: EntityManager, now: Date, limit = RECLAIM_BATCH): Promise<ReclaimedRow[]> {
  const error = { message: 'The lease expired before the task was completed', code: 'LEASE_EXPIRED' };
  return queryRows<ReclaimedRow>(tx, EXPIRED_SQL, [now, limit, JSON.stringify(error)]);
}

/** Requeues (or kills) the leases held by workers not seen since `silentSince`. */
export function reclaimLeasesOfGoneWorkers(tx: EntityManager, now: Date, silentSince: Date, limit = RECLAIM_BATCH): Promise<ReclaimedRow[]> {
  const error = { message: 'The worker holding the lease stopped answering', code: 'WORKER_GONE' };
  return queryRows<ReclaimedRow>(tx, GONE_WORKERS_SQL, [now, limit, JSON.stringify(error), silentSince]);
}
