import { claimProcessedEventSql, isoTimestampSql, outboxInsertSql, preparedQuery, type StatementTarget } from '@hms/platform';
import type { EventDataMap, LeasedTask } from '@hms/contracts';
import { effectiveRetryPolicy } from '../leases/backoff';
import { cappedLeaseSecondsSql } from '../leases/lease-cap.sql';
import type { WaiterLeaseTerms } from '../leases/task-signals';

/**
 * A step's task as `act.step.ready` asks for it, with its request; unset settings come from the
 * pool, and the step's own retry policy is completed with the pool's attempts when queued.
 */
export type StepTask = EventDataMap['act.step.ready'] & { requestId: string; input: Record<string, unknown> };

export interface QueueLoneStepParams {
  step: StepTask;
  taskId: string;
  now: Date;
  untimedDeadlineMinutes: number;
  /** The consumer claiming the event in `processed_events`, and the event. */
  consumer: string;
  eventId: string;
  /** Of the `oms.task.queued` event: who asked, and the trace headers (JSON) or null. */
  actor: string;
  traceHeaders: string | null;
  /** A parked lease call to lease the new task to at once, or null to leave it queued. */
  handOff: HandOffLease | null;
}

/** A lease granted by the queueing statement itself, to a worker already waiting for the task: its call's terms and fresh credentials. */
export type HandOffLease = WaiterLeaseTerms & { leaseToken: string; leaseId: string };

export interface QueueLoneStepResult {
  /** False: the pool does not exist yet; nothing was written. */
  poolFound: boolean;
  /** False: this event was handled before; nothing was written. */
  claimed: boolean;
  /** The new task, or null when the step already had one. */
  task: { id: string; tags: string[] } | null;
  /** The new task as leased to the hand-off's worker, or null when there was no hand-off or no new task. */
  leased: LeasedTask | null;
}

/*
 * `act.step.ready` in one statement and so one round trip, with no transaction around it: claim
 * the event, read the pool's defaults, insert the task and its `oms.task.queued` event. It does
 * what TasksService.queueFromStep does in the consumer's transaction, for an existing pool:
 * attempts, lease length and SLA are the step's own or else the pool's (for attempts that is
 * effectiveRetryPolicy's rule, applied here because the pool is read here); `pick_by` is the SLA
 * deadline or, untimed, the untimed deadline. Nothing is written when the pool is missing (the
 * transactional path creates it) or the event was claimed before; a second ready for a step
 * that has a task claims the event and queues nothing (tasks_request_step_key).
 *
 * Hand-off ($19 worker not null): the task is inserted already leased to that worker, as
 * lease-acquire.sql.ts would lease it (attempt 1, token, expiry from the grant time, which is
 * the statement's own clock), and `oms.task.leased` follows `oms.task.queued` in the outbox.
 * The leased event's insert reads the queued event's RETURNING, so the queued event's row (and
 * its outbox id) is made first and the relay publishes them in that order. The worker is seen at
 * the grant, as lease-acquire.sql.ts sees the workers it leases to: its call lasted until now,
 * and the liveness window it must next call within starts here, not at its parked call's last
 * look (up to half a window before). Lock order: the new task, then the worker row, as every
 * lease-holder statement takes them.
 *
 * Every row it reads or writes is reached by key, so it runs on the GenericPlanPool: planned
 * once per connection, which saves a third of the statement on the idle pickup path.
 */
export const QUEUE_LONE_STEP_SQL = `
WITH clock AS MATERIALIZED (
  SELECT date_trunc('milliseconds', GREATEST($13::timestamptz, clock_timestamp())) AS granted_at
),
pool AS (
  SELECT max_attempts, lease_seconds, max_lease_seconds, sla_minutes FROM oms.pools WHERE name = $4::text
),
claimed AS (
  ${claimProcessedEventSql({ schema: 'oms', consumer: '$15::text', eventIds: 'unnest(ARRAY[$16::uuid])', onlyIf: 'EXISTS (SELECT 1 FROM pool)' })}
),
settings AS (
  SELECT COALESCE($8::int, p.max_attempts) AS attempts,
         COALESCE($11::int, p.lease_seconds) AS lease_seconds,
         $13::timestamptz + COALESCE($12::float8, p.sla_minutes) * interval '1 minute' AS sla_due_at,
         COALESCE(${cappedLeaseSecondsSql('$22::int', 'p.max_lease_seconds', 'COALESCE($11::int, p.lease_seconds)')}, $11::int, p.lease_seconds) AS lease_duration,
         c.granted_at
  FROM pool AS p CROSS JOIN clock AS c
  WHERE EXISTS (SELECT 1 FROM claimed)
),
queued AS (
  INSERT INTO oms.tasks (id, request_id, step_id, pool, title, tags, priority, status, attempt, max_attempts, retry, payload, payload_bytes, input,
                         lease_seconds, sla_due_at, pick_by, available_at, queued_at, created_at, updated_at,
                         worker, lease_token, lease_id, lease_duration_seconds, lease_expires_at)
  SELECT $1::uuid, $2::text, $3::text, $4::text, $5::text, $6::text[], $7::int,
         CASE WHEN $19::text IS NULL THEN 'queued' ELSE 'leased' END, CASE WHEN $19::text IS NULL THEN 0 ELSE 1 END,
         s.attempts, jsonb_set($9::jsonb, '{attempts}', to_jsonb(s.attempts)), $10::text::jsonb, octet_length($10::text) + octet_length($25::text), $25::text::jsonb,
         s.lease_seconds, s.sla_due_at, COALESCE(s.sla_due_at, $13::timestamptz + $14::int * interval '1 minute'), $13, $13, $13,
         CASE WHEN $19::text IS NULL THEN $13::timestamptz ELSE s.granted_at END,
         $19::text, $20::text, $21::uuid,
         CASE WHEN $19::text IS NULL THEN NULL ELSE s.lease_duration END,
         CASE WHEN $19::text IS NULL THEN NULL ELSE s.granted_at + s.lease_duration * interval '1 second' END
  FROM settings AS s
  ON CONFLICT ON CONSTRAINT tasks_request_step_key DO NOTHING
  RETURNING id, request_id, step_id, pool, priority, tags, sla_due_at, attempt, worker, lease_id, lease_expires_at, lease_seconds, available_at, updated_at
),
seen AS (
  INSERT INTO oms.workers AS w (id, first_seen_at, last_seen_at)
  SELECT q.worker, q.updated_at, q.updated_at FROM queued AS q WHERE q.worker IS NOT NULL
  ON CONFLICT (id) DO UPDATE SET last_seen_at = GREATEST(w.last_seen_at, EXCLUDED.last_seen_at)
),
emitted AS (
  ${outboxInsertSql({
    schema: 'oms',
    source: 'oms',
    type: 'oms.task.queued',
    from: 'queued',
    at: isoTimestampSql('$13::timestamptz'),
    actor: '$17::text',
    requestId: 'r.request_id',
    headers: '$18::jsonb',
    data: {
      taskId: 'r.id',
      stepId: 'r.step_id',
      pool: 'r.pool',
      priority: 'r.priority',
      tags: 'to_jsonb(r.tags)',
      attempt: '0',
      slaDueAt: isoTimestampSql('r.sla_due_at'),
    },
  })}
  RETURNING event_id
),
handed_off AS (
  ${outboxInsertSql({
    schema: 'oms',
    source: 'oms',
    type: 'oms.task.leased',
    from: '(SELECT q.* FROM queued AS q WHERE q.worker IS NOT NULL AND EXISTS (SELECT 1 FROM emitted))',
    at: isoTimestampSql('r.updated_at'),
    actor: '$23::text',
    requestId: 'r.request_id',
    headers: '$24::jsonb',
    data: {
      taskId: 'r.id',
      stepId: 'r.step_id',
      pool: 'r.pool',
      worker: 'r.worker',
      leaseId: 'r.lease_id',
      attempt: 'r.attempt',
      leaseExpiresAt: isoTimestampSql('r.lease_expires_at'),
      waitedMs: 'GREATEST(0, (EXTRACT(EPOCH FROM (r.updated_at - r.available_at)) * 1000)::bigint)',
    },
  })}
)
SELECT EXISTS (SELECT 1 FROM pool) AS pool_found, EXISTS (SELECT 1 FROM claimed) AS claimed, q.id, q.tags, q.worker, q.lease_expires_at, q.lease_seconds
FROM (SELECT 1) AS one LEFT JOIN queued AS q ON true`;

/** Queues a lone step's task, claiming its event, atomically on its own (one statement). */
export async function queueLoneStep(db: StatementTarget, params: QueueLoneStepParams): Promise<QueueLoneStepResult> {
  const { step, handOff } = params;
  const [row] = await preparedQuery<QueueLoneStepRow>(db, 'oms_queue_lone_step', QUEUE_LONE_STEP_SQL, [
    params.taskId,
    step.requestId,
    step.stepId,
    step.pool,
    step.title,
    step.tags,
    step.priority,
    step.retry?.attempts ?? null,
    JSON.stringify(effectiveRetryPolicy(step.retry, 0)),
    JSON.stringify(step.payload),
    step.leaseSeconds,
    step.slaMinutes,
    params.now,
    params.untimedDeadlineMinutes,
    params.consumer,
    params.eventId,
    params.actor,
    params.traceHeaders,
    handOff?.worker ?? null,
    handOff?.leaseToken ?? null,
    handOff?.leaseId ?? null,
    handOff?.leaseSeconds ?? null,
    handOff?.actor ?? null,
    handOff?.traceHeaders ?? null,
    JSON.stringify(step.input),
  ]);
  const { pool_found: poolFound, claimed, id, tags, worker, lease_expires_at: leaseExpiresAt, lease_seconds: leaseSeconds } = row!;
  const task = id ? { id, tags: tags ?? [] } : null;
  const leased: LeasedTask | null =
    task && handOff && worker !== null && leaseExpiresAt !== null && leaseSeconds !== null
      ? {
          id: task.id,
          requestId: step.requestId,
          stepId: step.stepId,
          title: step.title,
          pool: step.pool,
          tags: task.tags,
          payload: step.payload,
          input: step.input,
          attempt: 1,
          leaseToken: handOff.leaseToken,
          leaseExpiresAt: leaseExpiresAt.toISOString(),
          leaseSeconds,
        }
      : null;
  return { poolFound, claimed, task, leased };
}

interface QueueLoneStepRow {
  pool_found: boolean;
  claimed: boolean;
  id: string | null;
  tags: string[] | null;
  worker: string | null;
  lease_expires_at: Date | null;
  lease_seconds: number | null;
}
