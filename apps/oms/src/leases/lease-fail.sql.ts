import type { TaskStatus } from '@hms/contracts';
import type { EntityManager } from 'typeorm';
import { queryRows } from '../database/query-rows';
import type { EffectiveRetryPolicy } from './backoff';
import type { EndedOutcome } from '../tasks/task.entity';

export interface FailingTaskRow {
  id: string;
  request_id: string;
  step_id: string;
  pool: string;
  tags: string[];
  status: TaskStatus;
  attempt: number;
  max_attempts: number;
  retry: EffectiveRetryPolicy;
  worker: string | null;
  lease_id: string | null;
  lease_token: string | null;
  ended_lease_token: string | null;
  ended_outcome: EndedOutcome | null;
}

/*
 * A failure needs a decision the SQL should not make (retry or dead, and the backoff with
 * jitter, see task.state.ts and backoff.ts), so it is two statements in one transaction: lock
 * the row by primary key with a plain FOR UPDATE (a racing duplicate waits and then sees the
 * outcome of the first), decide in code, then apply.
 */
export async function lockTaskForFailure(tx: EntityManager, taskId: string): Promise<FailingTaskRow | undefined> {
  const [row] = await queryRows<FailingTaskRow>(
    tx,
    `SELECT id, request_id, step_id, pool, tags, status, attempt, max_attempts, retry, worker, lease_id, lease_token,
            ended_lease_token, ended_outcome
     FROM oms.tasks WHERE id = $1 FOR UPDATE`,
    [taskId],
  );
  return row;
}

/*
 * Applies the decision to the row locked above, and refreshes the worker after it (task, then
 * worker: the lock order of every lease-holder statement). A retried task goes back to the
 * queue unleased, not offered before `availableAt`; a dead one keeps its last worker.
 */
const APPLY_FAILURE_SQL = `
WITH changed AS (
  UPDATE oms.tasks AS t SET
    status = $2,
    worker = CASE WHEN $2 = 'queued' THEN NULL ELSE t.worker END,
    last_error = $3::jsonb,
    ended_lease_token = t.lease_token,
    ended_outcome = $4::jsonb,
    lease_token = NULL,
    lease_expires_at = NULL,
    lease_duration_seconds = NULL,
    available_at = COALESCE($5::timestamptz, t.available_at),
    queued_at = CASE WHEN $2 = 'queued' THEN $6::timestamptz ELSE t.queued_at END,
    updated_at = $6::timestamptz
  WHERE t.id = $1 AND t.status = 'leased'
  RETURNING t.id
),
seen AS (
  UPDATE oms.workers AS w SET last_seen_at = GREATEST(w.last_seen_at, $6::timestamptz)
  WHERE w.id = $7 AND EXISTS (SELECT 1 FROM changed)
)
SELECT id FROM changed`;

export async function applyFailure(
  tx: EntityManager,
  params: {
    taskId: string;
    status: 'queued' | 'dead';
    error: { message: string; code?: string };
    outcome: EndedOutcome;
    availableAt: Date | null;
    now: Date;
    worker: string | null;
  },
): Promise<void> {
  await queryRows(tx, APPLY_FAILURE_SQL, [
    params.taskId,
    params.status,
    JSON.stringify(params.error),
    JSON.stringify(params.outcome),
    params.availableAt,
    params.now,
    params.worker,
  ]);
}
