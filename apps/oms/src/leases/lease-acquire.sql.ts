import { isoTimestampSql, outboxInsertSql, preparedQuery, type StatementTarget } from '@hms/platform';
import { compareQueueOrder, QUEUE_ORDER_SQL } from '../tasks/queue-order';
import { cappedLeaseSecondsSql } from './lease-cap.sql';

export interface AcquireLeasesParams {
  pool: string;
  worker: string;
  /** The worker's tags; null offers every task, an array only tasks whose tags it covers. */
  workerTags: string[] | null;
  max: number;
  /** Lease length asked for by the caller (cut to the pool's cap); null uses each task's own. */
  leaseSeconds: number | null;
  now: Date;
  /** One fresh secret token and lease id per task that may be granted (at least `max`). */
  leaseTokens: string[];
  leaseIds: string[];
  /** Of the `oms.task.leased` events: who asked, and the caller's trace headers (JSON) or null. */
  actor: string;
  traceHeaders: string | null;
  /** Room in the answer for the tasks, in bytes (see {@link leasedTaskBytesSql}). */
  replyBudgetBytes: number;
  /** A worker row seen this recently (ms before `now`) is left as it is (see lastSeenResolutionMs). */
  seenResolutionMs: number;
}

export interface AcquiredLeaseRow {
  id: string;
  request_id: string;
  step_id: string;
  pool: string;
  title: string;
  tags: string[];
  payload: Record<string, unknown>;
  input: Record<string, unknown>;
  priority: number;
  attempt: number;
  lease_token: string;
  lease_id: string;
  lease_expires_at: Date;
  lease_seconds: number;
  pick_by: Date;
  available_at: Date;
  granted_at: Date;
}

/** What the statement answers: the leased tasks, or the best task when it alone would not fit in the answer. */
export interface AcquireLeasesResult {
  rows: AcquiredLeaseRow[];
  tooLarge: { taskId: string; bytes: number } | null;
}

/**
 * What a task adds to a lease answer, as JSON, in bytes: its payload and input as measured when
 * it was queued (`payload_bytes`; `payload::text`, an overestimate, for tasks queued before it was
 * kept, whose input is `{}`), its texts as JSON strings (escapes included), and 320 for the fixed fields (task id, token,
 * expiry, attempt, the keys and the separating comma). An upper bound, never below the size.
 */
export const leasedTaskBytesSql = `COALESCE(payload_bytes, octet_length(payload::text) + octet_length(input::text))
    + octet_length(to_json(title)::text) + octet_length(to_json(request_id)::text) + octet_length(to_json(step_id)::text)
    + octet_length(to_json(pool)::text) + octet_length(to_json(tags)::text) + 320`;

/*
 * One statement, one round trip: refresh the worker, pick, lock and lease up to $5 tasks.
 *
 * Locking: `FOR UPDATE SKIP LOCKED` in the picking CTE. Concurrent lease calls on the same pool
 * do not queue up behind each other's row locks; each skips the rows another caller is taking
 * and moves on to the next ones, so N callers get N disjoint batches. A row that another
 * transaction changed before we locked it is re-checked against the WHERE clause by Postgres
 * (it may then be dropped, so a call can get fewer than `max` even with more queued; the next
 * call gets them). MATERIALIZED makes the locked set be computed exactly once.
 *
 * Order and index: queue-order.ts. The ORDER BY is exactly the order of `tasks_lease_idx`, so
 * Postgres walks the index from the top and stops at LIMIT, whatever the depth of the queue; `available_at <= now` and the tag test are filters
 * on the way (a task waiting out a retry backoff keeps its place and is stepped over until due).
 *
 * Tags: `tags <@ $4` — every tag of the task is among the worker's. A task without tags
 * (`'{}'`) is contained in any set, so anyone may take it.
 *
 * Size: an answer must fit in one NATS message, so only the best tasks whose sizes add up to
 * $11 are leased (in queue order); the rest are locked for the statement only and stay queued,
 * for the next call. If the best one alone does not fit, nothing is leased and the statement
 * names it (\`too_large_id\`), for a 413 the caller can act on. The sizes are an int column and
 * a few short texts per picked row: the payloads themselves are not serialized to measure them.
 *
 * Tokens and lease ids come from the caller (crypto-random in Node; pgcrypto is not assumed),
 * matched to the picked rows by position.
 *
 * Worker upsert: only when the worker is new or its last_seen_at is older than $12 ms
 * (lastSeenResolutionMs): a worker at work calls several times a second, and the upsert, when it
 * runs, locks the row and writes a new version of it (2 of a one-task lease's 14 WAL records).
 * The NOT EXISTS reads the row without locking it; last_seen_at only moves forward (GREATEST),
 * so a row found fresh stays fresh. When the upsert runs, it locks the worker row before any
 * task; lease-holder statements lock the task first and the worker after, but a lease call never
 * waits on a task lock (SKIP LOCKED), so the two orders cannot deadlock.
 *
 * Events: the `oms.task.leased` event of each granted task goes into the outbox from the same
 * statement, so the lease needs no transaction around it: one round trip instead of four
 * (BEGIN, lease, outbox insert, COMMIT), which is most of a lease call's time.
 *
 * Lease length: the asked one cut to the pool's cap (lease-cap.sql.ts), read once by primary key.
 *
 * Grant time: the statement's own execution time (never before the caller's clock). A task is
 * seen as queued only once the release, expiry or failure that queued it has committed, and
 * that change was stamped before its commit; a time read in Node before the statement could
 * precede it by a millisecond or two, and the ledger would show two leases overlapping.
 *
 * Runs on the GenericPlanPool: the picking walks `tasks_lease_idx` from its top for any pool,
 * tags and limit, on an empty table as on a deep one (generic-plans.int-spec.ts), and the rest
 * reaches rows by primary key; planning it anew each time cost a third of a lease.
 */
const CAPPED = cappedLeaseSecondsSql('asked.seconds', 'asked.pool_max', 't.lease_seconds');

export const ACQUIRE_SQL = `
WITH clock AS MATERIALIZED (
  SELECT date_trunc('milliseconds', GREATEST($2::timestamptz, clock_timestamp())) AS granted_at
),
seen AS (
  INSERT INTO oms.workers AS w (id, first_seen_at, last_seen_at)
  SELECT $1::text, $2::timestamptz, $2::timestamptz
  WHERE NOT EXISTS (SELECT 1 FROM oms.workers WHERE id = $1::text AND last_seen_at >= $2::timestamptz - $12::int * interval '1 millisecond')
  ON CONFLICT (id) DO UPDATE SET last_seen_at = GREATEST(w.last_seen_at, EXCLUDED.last_seen_at)
),
picked AS MATERIALIZED (
  SELECT id, priority, pick_by, available_at, ${leasedTaskBytesSql} AS reply_bytes
  FROM oms.tasks
  WHERE pool = $3
    AND status = 'queued'
    AND available_at <= $2::timestamptz
    AND ($4::text[] IS NULL OR tags <@ $4::text[])
  ORDER BY ${QUEUE_ORDER_SQL}
  LIMIT $5
  FOR UPDATE SKIP LOCKED
),
fitting AS (
  SELECT id FROM (SELECT id, sum(reply_bytes) OVER (ORDER BY ${QUEUE_ORDER_SQL}) AS running FROM picked) AS sized
  WHERE running <= $11
),
too_large AS (
  SELECT id, reply_bytes FROM picked WHERE NOT EXISTS (SELECT 1 FROM fitting) ORDER BY ${QUEUE_ORDER_SQL} LIMIT 1
),
asked AS MATERIALIZED (
  SELECT $8::int AS seconds, (SELECT max_lease_seconds FROM oms.pools WHERE name = $3) AS pool_max
),
granted AS (
  SELECT numbered.id, g.lease_token, g.lease_id
  FROM (SELECT id, row_number() OVER () AS n FROM fitting) AS numbered
  JOIN unnest($6::text[], $7::uuid[]) WITH ORDINALITY AS g(lease_token, lease_id, n) ON g.n = numbered.n
),
leased AS (
  UPDATE oms.tasks AS t SET
    status = 'leased',
    attempt = t.attempt + 1,
    worker = $1,
    lease_token = granted.lease_token,
    lease_id = granted.lease_id,
    lease_duration_seconds = COALESCE(${CAPPED}, t.lease_seconds),
    lease_expires_at = clock.granted_at + COALESCE(${CAPPED}, t.lease_seconds) * interval '1 second',
    updated_at = clock.granted_at
  FROM granted CROSS JOIN clock CROSS JOIN asked
  WHERE t.id = granted.id
  RETURNING t.id, t.request_id, t.step_id, t.pool, t.title, t.tags, t.payload, t.input, t.priority, t.attempt,
            t.lease_token, t.lease_id, t.lease_expires_at, t.lease_seconds, t.pick_by, t.available_at, clock.granted_at
),
emitted AS (
  ${outboxInsertSql({
    schema: 'oms',
    source: 'oms',
    type: 'oms.task.leased',
    from: 'leased',
    at: isoTimestampSql('r.granted_at'),
    actor: '$9::text',
    requestId: 'r.request_id',
    headers: '$10::jsonb',
    data: {
      taskId: 'r.id',
      stepId: 'r.step_id',
      pool: 'r.pool',
      worker: '$1::text',
      leaseId: 'r.lease_id',
      attempt: 'r.attempt',
      leaseExpiresAt: isoTimestampSql('r.lease_expires_at'),
      waitedMs: 'GREATEST(0, (EXTRACT(EPOCH FROM (r.granted_at - r.available_at)) * 1000)::bigint)',
    },
  })}
)
-- One row even when nothing is leased, to carry too_large: the leased rows, or a row of nulls.
SELECT leased.*, too_large.id AS too_large_id, too_large.reply_bytes AS too_large_bytes
FROM (SELECT) AS answer
LEFT JOIN leased ON true
LEFT JOIN too_large ON true`;

/**
 * Leases up to `max` tasks of a pool to a worker, best first (priority, deadline pressure, age),
 * and writes their `oms.task.leased` events to the outbox; atomic on its own (one statement).
 */
export async function acquireLeases(db: StatementTarget, params: AcquireLeasesParams): Promise<AcquireLeasesResult> {
  const answer = await preparedQuery<AcquiredLeaseRow & { too_large_id: string | null; too_large_bytes: string | null }>(db, 'oms_acquire_leases', ACQUIRE_SQL, [
    params.worker,
    params.now,
    params.pool,
    params.workerTags,
    params.max,
    params.leaseTokens,
    params.leaseIds,
    params.leaseSeconds,
    params.actor,
    params.traceHeaders,
    params.replyBudgetBytes,
    params.seenResolutionMs,
  ]);
  const first = answer[0];
  const tooLarge = first?.too_large_id ? { taskId: first.too_large_id, bytes: Number(first.too_large_bytes) } : null;
  // UPDATE … RETURNING has no order; hand them out in queue order.
  const rows: AcquiredLeaseRow[] = answer.filter((row) => row.id !== null);
  return { rows: rows.sort(compareQueueOrder), tooLarge };
}
