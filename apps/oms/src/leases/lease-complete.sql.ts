import type { EntityManager } from 'typeorm';
import { queryRows } from '../database/query-rows';
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
  output: Record<string, unknown>;
  outcome: EndedOutcome;
}

/*
 * Completes every task of the batch whose token still holds its lease, in one statement: store
 * the output, end the lease and remember its token with the answer, so a repeated complete is
 * recognised. Task rows are locked in id order (the ORDER BY sits below the row locks), so two
 * batches on two replicas cannot deadlock on them; a task whose token does not match (stale,
 * repeated) is not locked and simply returns no row. Rows are reached by primary key.
 */
const COMPLETE_MANY_SQL = `
WITH input AS (
  SELECT * FROM unnest($1::uuid[], $2::text[], $3::jsonb[], $4::jsonb[]) AS i(id, token, output, outcome)
),
held AS (
  SELECT t.id, t.worker FROM oms.tasks AS t JOIN input AS i ON t.id = i.id AND t.lease_token = i.token
  WHERE t.status = 'leased'
  ORDER BY t.id
  FOR UPDATE OF t
)
UPDATE oms.tasks AS t SET
  status = 'completed',
  output = i.output,
  ended_lease_token = t.lease_token,
  ended_outcome = i.outcome,
  lease_token = NULL,
  lease_expires_at = NULL,
  lease_duration_seconds = NULL,
  updated_at = $5::timestamptz
FROM held JOIN input AS i ON i.id = held.id
WHERE t.id = held.id
RETURNING t.id, t.request_id, t.step_id, t.pool, held.worker AS holder, t.lease_id, t.attempt`;

/*
 * Refreshes the holders' last-seen time, after their task rows (the order every lease-holder
 * statement follows), each holder once, in name order.
 */
const TOUCH_HOLDERS_SQL = `
UPDATE oms.workers AS w SET last_seen_at = GREATEST(w.last_seen_at, $2::timestamptz)
FROM unnest($1::text[]) AS h(id) WHERE w.id = h.id`;

/** Completes the tasks whose `leaseToken` holds their lease; the others are left out of the answer. */
export async function completeLeases(tx: EntityManager, completions: CompletionInput[], now: Date): Promise<CompletedRow[]> {
  const rows = await queryRows<CompletedRow>(tx, COMPLETE_MANY_SQL, [
    completions.map((c) => c.taskId),
    completions.map((c) => c.leaseToken),
    completions.map((c) => JSON.stringify(c.output)),
    completions.map((c) => JSON.stringify(c.outcome)),
    now,
  ]);
  const holders = [...new Set(rows.map((row) => row.holder))].sort();
  if (holders.length > 0) await tx.query(TOUCH_HOLDERS_SQL, [holders, now]);
  return rows;
}
