import type { EntityManager } from 'typeorm';
import { queryRows } from '../database/query-rows';
import type { EndedOutcome } from '../tasks/task.entity';
import { HELD_LEASE_CTE, TOUCH_HOLDER_CTE } from './lease-holder.sql';

export interface CompletedRow {
  id: string;
  request_id: string;
  step_id: string;
  pool: string;
  holder: string;
  lease_id: string;
  attempt: number;
}

/*
 * One round trip: lock by (id, token, leased) — see HELD_LEASE_CTE — store the output, end the
 * lease and remember its token with the answer, so a repeated complete is recognised.
 * The row is reached through its primary key; no other index is involved.
 */
const COMPLETE_SQL = `
WITH ${HELD_LEASE_CTE},
changed AS (
  UPDATE oms.tasks AS t SET
    status = 'completed',
    output = $4::jsonb,
    ended_lease_token = t.lease_token,
    ended_outcome = $5::jsonb,
    lease_token = NULL,
    lease_expires_at = NULL,
    lease_duration_seconds = NULL,
    updated_at = $3::timestamptz
  FROM held
  WHERE t.id = held.id
  RETURNING t.id, t.request_id, t.step_id, t.pool, held.worker AS holder, t.lease_id, t.attempt
),
${TOUCH_HOLDER_CTE('changed', '$3')}
SELECT * FROM changed`;

/** Completes the task if `leaseToken` holds its lease; returns nothing otherwise. */
export async function completeLease(
  tx: EntityManager,
  params: { taskId: string; leaseToken: string; now: Date; output: Record<string, unknown>; outcome: EndedOutcome },
): Promise<CompletedRow | undefined> {
  const [row] = await queryRows<CompletedRow>(tx, COMPLETE_SQL, [
    params.taskId,
    params.leaseToken,
    params.now,
    JSON.stringify(params.output),
    JSON.stringify(params.outcome),
  ]);
  return row;
}
