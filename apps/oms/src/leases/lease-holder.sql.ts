import { DomainError } from '@hms/contracts';
import type { EntityManager } from 'typeorm';
import { queryRows } from '../database/query-rows';
import type { EndedOutcome } from '../tasks/task.entity';

/**
 * Shared head of the statements a lease holder makes (release, heartbeat): lock the task only if
 * this token holds its lease right now and, when $5 names a worker (a worker token's caller, see
 * requiredLeaseHolder), that worker is the holder: a lease token another worker saw is not enough. `held.worker` keeps the holder's name for
 * the statement's tail, which refreshes the worker row after the task row is locked (the order
 * every lease-holder statement follows, so they cannot deadlock one another).
 *
 * Locking: plain `FOR UPDATE` on one row by primary key. Two identical calls racing (a retried
 * complete) serialise here; the second is re-checked after the first commits, matches nothing
 * and is then answered from `ended_outcome`.
 */
export const HELD_LEASE_CTE = heldLease('lease_token = $2');

/** HELD_LEASE_CTE whose lease is matched by `tokenCondition` over $2 (a manager's force-release matches any lease). */
export function heldLease(tokenCondition: string): string {
  return `
held AS (
  SELECT id, worker FROM oms.tasks
  WHERE id = $1 AND ${tokenCondition} AND status = 'leased' AND ($5::text IS NULL OR worker = $5::text)
  FOR UPDATE
)`;
}

/** Refreshes the holder's last-seen time; the tail of every lease-holder statement. */
export const TOUCH_HOLDER_CTE = (changed: string, now: string, when = 'TRUE') => `
seen AS (
  UPDATE oms.workers AS w SET last_seen_at = GREATEST(w.last_seen_at, ${now}::timestamptz)
  FROM ${changed} WHERE w.id = ${changed}.holder AND ${when}
)`;

interface LeaseMissRow {
  status: string;
  worker: string | null;
  lease_token: string | null;
  ended_lease_token: string | null;
  ended_outcome: EndedOutcome | null;
}

/**
 * The answer already given to this very call (same token, same action), if it was made before
 * and ended the lease; null when the token is stale or foreign.
 */
export function repeatedOutcome(
  row: { ended_lease_token: string | null; ended_outcome: EndedOutcome | null },
  leaseToken: string,
  action: EndedOutcome['action'],
): EndedOutcome['result'] | null {
  return row.ended_lease_token === leaseToken && row.ended_outcome?.action === action ? row.ended_outcome.result : null;
}

/**
 * FORBIDDEN when the token holds the task's lease but the caller must be the holder (a worker
 * token, see requiredLeaseHolder) and is not: someone else's lease token does not make one its
 * holder. Said apart from LEASE_LOST so the worker knows the lease is alive, just not its own.
 */
export function refuseOtherHolder(
  row: { id: string; status: string; worker: string | null; lease_token: string | null },
  leaseToken: string,
  holder: string | null,
): void {
  if (holder !== null && row.status === 'leased' && row.lease_token === leaseToken && row.worker !== holder) {
    throw new DomainError('FORBIDDEN', `The lease on task '${row.id}' is held by another worker`);
  }
}

/**
 * A lease-holder call matched no lease. Tells apart the same call repeated after it succeeded
 * (answered as the first time) from a stale or foreign token (LEASE_LOST), a token used by a
 * worker that does not hold the lease (FORBIDDEN) and an unknown task.
 */
export async function explainLeaseMiss(
  db: EntityManager,
  taskId: string,
  leaseToken: string,
  action: EndedOutcome['action'] | 'heartbeat',
  holder: string | null,
): Promise<EndedOutcome['result']> {
  const [row] = await queryRows<LeaseMissRow>(db, `SELECT status, worker, lease_token, ended_lease_token, ended_outcome FROM oms.tasks WHERE id = $1`, [
    taskId,
  ]);
  if (!row) throw DomainError.notFound('Task', taskId);
  refuseOtherHolder({ id: taskId, ...row }, leaseToken, holder);
  const repeated = action === 'heartbeat' ? null : repeatedOutcome(row, leaseToken, action);
  if (repeated) return repeated;
  throw new DomainError('LEASE_LOST', `The lease on task '${taskId}' is not held with this token (it expired, was revoked or ended)`);
}

/**
 * A force-release matched no lease: the task is unknown (NOT_FOUND) or not leased (CONFLICT, also
 * when the same force-release is repeated: without a token there is no call to recognise).
 */
export async function refuseForceRelease(db: EntityManager, taskId: string): Promise<never> {
  const [row] = await queryRows<{ status: string }>(db, `SELECT status FROM oms.tasks WHERE id = $1`, [taskId]);
  if (!row) throw DomainError.notFound('Task', taskId);
  throw new DomainError('CONFLICT', `Task '${taskId}' is not leased (it is ${row.status}): there is no lease to release`);
}
