import type { EntityManager } from 'typeorm';
import { queryRows } from '../database/query-rows';
import { cappedLeaseSecondsSql } from './lease-cap.sql';
import { HELD_LEASE_CTE, TOUCH_HOLDER_CTE } from './lease-holder.sql';

/*
 * A heartbeat: one round trip, no event (it changes no state, and at one per worker every few
 * seconds it would flood the ledger). The new deadline counts from now: the asked extension,
 * cut to the pool's cap (lease-cap.sql.ts), else the length the lease was granted with. Lock and
 * index: see HELD_LEASE_CTE (and the pool's primary key for its cap).
 */
const RENEW_SQL = `
WITH ${HELD_LEASE_CTE},
changed AS (
  UPDATE oms.tasks AS t SET
    lease_expires_at = $3::timestamptz + COALESCE(
      ${cappedLeaseSecondsSql('$4::int', '(SELECT p.max_lease_seconds FROM oms.pools AS p WHERE p.name = t.pool)', 't.lease_seconds')},
      t.lease_duration_seconds, t.lease_seconds) * interval '1 second',
    updated_at = $3::timestamptz
  FROM held
  WHERE t.id = held.id
  RETURNING t.id, t.lease_expires_at, held.worker AS holder
),
${TOUCH_HOLDER_CTE('changed', '$3')}
SELECT id, lease_expires_at FROM changed`;

/** Extends the lease if `leaseToken` holds it; returns the new deadline, or nothing. */
export async function renewLease(
  tx: EntityManager,
  params: { taskId: string; leaseToken: string; now: Date; extendSeconds: number | null; holder: string | null },
): Promise<{ id: string; lease_expires_at: Date } | undefined> {
  const [row] = await queryRows<{ id: string; lease_expires_at: Date }>(tx, RENEW_SQL, [
    params.taskId,
    params.leaseToken,
    params.now,
    params.extendSeconds,
    params.holder,
  ]);
  return row;
}
