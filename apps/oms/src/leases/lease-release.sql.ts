import type { EntityManager } from 'typeorm';
import { queryRows } from '../database/query-rows';
import type { EndedOutcome } from '../tasks/task.entity';
import { heldLease, TOUCH_HOLDER_CTE } from './lease-holder.sql';

export interface ReleasedRow {
  id: string;
  request_id: string;
  step_id: string;
  pool: string;
  tags: string[];
  holder: string;
  lease_id: string;
  attempt: number;
}

/*
 * One round trip: lock by (id, token, leased) — see HELD_LEASE_CTE; a null token ($2, a manager's
 * force-release) matches whatever lease the task has — and put the task back at
 * the end of its priority in the queue, available at once. The attempt the lease started is
 * given back (the worker declined; it did not fail). Index: primary key only.
 */
const RELEASE_SQL = `
WITH ${heldLease('($2::text IS NULL OR lease_token = $2::text)')},
changed AS (
  UPDATE oms.tasks AS t SET
    status = 'queued',
    attempt = t.attempt - 1,
    worker = NULL,
    ended_lease_token = t.lease_token,
    ended_outcome = $4::jsonb,
    lease_token = NULL,
    lease_expires_at = NULL,
    lease_duration_seconds = NULL,
    available_at = $3::timestamptz,
    queued_at = $3::timestamptz,
    updated_at = $3::timestamptz
  FROM held
  WHERE t.id = held.id
  RETURNING t.id, t.request_id, t.step_id, t.pool, t.tags, held.worker AS holder, t.lease_id, t.attempt
),
${TOUCH_HOLDER_CTE('changed', '$3', '$2::text IS NOT NULL')}
SELECT * FROM changed`;

/**
 * Releases the task back to its queue if `leaseToken` holds its lease, or whatever lease it has
 * when `leaseToken` is null (a force-release: the holder is not touched as seen); nothing otherwise.
 */
export async function releaseLease(
  tx: EntityManager,
  params: { taskId: string; leaseToken: string | null; now: Date; outcome: EndedOutcome; holder: string | null },
): Promise<ReleasedRow | undefined> {
  const [row] = await queryRows<ReleasedRow>(tx, RELEASE_SQL, [
    params.taskId,
    params.leaseToken,
    params.now,
    JSON.stringify(params.outcome),
    params.holder,
  ]);
  return row;
}
