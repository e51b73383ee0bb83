import { outboxInsertSql, preparedQuery, type StatementTarget } from '@hms/platform';
import type { EndedOutcome } from '../tasks/task.entity';

export interface CompletedRow {
  id: string;
  request_id: string;
  step_id: string;
  pool: string;
  holder: string;
  lease_id: string;
  attempt: number;
}

export interface CompletionInput {
  taskId: string;
  leaseToken: string;
  /** The output as JSON, serialized once by the caller (who measured it). */
  outputJson: string;
  outcome: EndedOutcome;
  /** The worker that must hold the lease (a worker token's caller), or null when the token suffices. */
  holder: string | null;
  /** Of the `oms.task.completed` event: who completed, and that call's trace headers (JSON) or null. */
  actor: string;
  traceHeaders: string | null;
}

/*
 * Completes every task of the batch whose token still holds its lease, in one statement and so
 * one round trip, with no transaction around it (a task whose required holder, see
 * requiredLeaseHolder, is not its worker is left out like a stale token): store the output, end the lease and remember
 * its token with the answer (so a repeated complete is recognised), refresh each holder once,
 * and write each task's `oms.task.completed` event to the outbox. A holder whose last_seen_at is
 * within $10 ms of now is neither locked nor rewritten (see lastSeenResolutionMs): that is the
 * usual case, a worker completing what it leased a moment ago.
 *
 * Locking: task rows in id order (the ORDER BY sits below the row locks), then the holders'
 * worker rows in id order — the order every lease-holder statement follows (task, then worker) —
 * so two batches on two replicas cannot deadlock. A task whose token does not match (stale,
 * repeated) is not locked and returns no row. Rows are reached by primary key, whatever the
 * arguments, so it runs on the GenericPlanPool (planned once per connection).
 */
export const COMPLETE_MANY_SQL = `
WITH input AS (
  SELECT * FROM unnest($1::uuid[], $2::text[], $3::jsonb[], $4::jsonb[], $5::text[], $6::jsonb[], $9::text[])
    AS i(id, token, output, outcome, actor, headers, holder)
),
held AS (
  SELECT t.id, t.worker FROM oms.tasks AS t JOIN input AS i ON t.id = i.id AND t.lease_token = i.token
  WHERE t.status = 'leased' AND (i.holder IS NULL OR t.worker = i.holder)
  ORDER BY t.id
  FOR UPDATE OF t
),
changed AS (
  UPDATE oms.tasks AS t SET
    status = 'completed',
    output = i.output,
    ended_lease_token = t.lease_token,
    ended_outcome = i.outcome,
    lease_token = NULL,
    lease_expires_at = NULL,
    lease_duration_seconds = NULL,
    updated_at = $7::timestamptz
  FROM held JOIN input AS i ON i.id = held.id
  WHERE t.id = held.id
  RETURNING t.id, t.request_id, t.step_id, t.pool, held.worker AS holder, t.lease_id, t.attempt, i.output, i.actor, i.headers
),
holders AS (
  SELECT w.id FROM oms.workers AS w
  WHERE w.id IN (SELECT holder FROM changed) AND w.last_seen_at < $7::timestamptz - $10::int * interval '1 millisecond'
  ORDER BY w.id
  FOR UPDATE
),
seen AS (
  UPDATE oms.workers AS w SET last_seen_at = GREATEST(w.last_seen_at, $7::timestamptz) FROM holders WHERE w.id = holders.id
),
emitted AS (
  ${outboxInsertSql({
    schema: 'oms',
    source: 'oms',
    type: 'oms.task.completed',
    from: 'changed',
    at: '$8::text',
    actor: 'r.actor',
    requestId: 'r.request_id',
    headers: 'r.headers',
    data: {
      taskId: 'r.id',
      stepId: 'r.step_id',
      pool: 'r.pool',
      worker: 'r.holder',
      leaseId: 'r.lease_id',
      attempt: 'r.attempt',
      output: 'r.output',
    },
  })}
)
SELECT id, request_id, step_id, pool, holder, lease_id, attempt FROM changed`;

/**
 * Completes the tasks whose `leaseToken` holds their lease, with their events; atomic on its own.
 * The others are left out of the answer.
 */
export function completeLeases(db: StatementTarget, completions: CompletionInput[], now: Date, seenResolutionMs: number): Promise<CompletedRow[]> {
  return preparedQuery<CompletedRow>(db, 'oms_complete_leases', COMPLETE_MANY_SQL, [
    completions.map((c) => c.taskId),
    completions.map((c) => c.leaseToken),
    completions.map((c) => c.outputJson),
    completions.map((c) => JSON.stringify(c.outcome)),
    completions.map((c) => c.actor),
    completions.map((c) => c.traceHeaders),
    now,
    now.toISOString(),
    completions.map((c) => c.holder),
    seenResolutionMs,
  ]);
}
