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

/**
 * The one place a step's task is written: both queueing statements insert it with this.
 * `steps` is a relation of the tasks to queue, one row each, with the columns
 *
 *   id uuid, request_id, step_id, pool, title text, tags text[], priority int,
 *   step_attempts int, retry text (JSON, the policy without its attempts), payload text,
 *   input text (JSON), step_lease_seconds int, step_sla_minutes float8: the step's own (or null);
 *   worker text, lease_token text, lease_id uuid, lease_asked int, granted_at timestamptz:
 *   the hand-off (worker null: queued, not leased);
 *
 * and each row's pool must exist (`oms.pools`, joined here). Unset settings are the pool's:
 * attempts (effectiveRetryPolicy's rule, completed here because the pool is read here), lease
 * length and SLA; `pick_by` is the SLA deadline or, untimed, `untimedMinutes` after `now`. A
 * second task for a (request, step) is not inserted (tasks_request_step_key). A hand-off row is
 * inserted already leased to its worker, as lease-acquire.sql.ts would lease it (attempt 1,
 * token, expiry from the grant time). `payload_bytes` is the length of the JSON the service
 * wrote (see docs/architecture.md "Sizes").
 */
function insertQueuedTasksSql(steps: string, now: string, untimedMinutes: string): string {
  return `INSERT INTO oms.tasks (id, request_id, step_id, pool, title, tags, priority, status, attempt, max_attempts, retry, payload, payload_bytes, input,
                         lease_seconds, sla_due_at, pick_by, available_at, queued_at, created_at, updated_at,
                         worker, lease_token, lease_id, lease_duration_seconds, lease_expires_at)
  SELECT s.id, s.request_id, s.step_id, s.pool, s.title, s.tags, s.priority,
         CASE WHEN s.worker IS NULL THEN 'queued' ELSE 'leased' END, CASE WHEN s.worker IS NULL THEN 0 ELSE 1 END,
         s.attempts, jsonb_set(s.retry::jsonb, '{attempts}', to_jsonb(s.attempts)), s.payload::jsonb, octet_length(s.payload) + octet_length(s.input), s.input::jsonb,
         s.lease_seconds, s.sla_due_at, COALESCE(s.sla_due_at, ${now} + ${untimedMinutes} * interval '1 minute'), ${now}, ${now}, ${now},
         CASE WHEN s.worker IS NULL THEN ${now} ELSE s.granted_at END,
         s.worker, s.lease_token, s.lease_id,
         CASE WHEN s.worker IS NULL THEN NULL ELSE s.lease_duration END,
         CASE WHEN s.worker IS NULL THEN NULL ELSE s.granted_at + s.lease_duration * interval '1 second' END
  FROM (
    SELECT s.*, COALESCE(s.step_attempts, p.max_attempts) AS attempts,
           COALESCE(s.step_lease_seconds, p.lease_seconds) AS lease_seconds,
           ${now} + COALESCE(s.step_sla_minutes, p.sla_minutes) * interval '1 minute' AS sla_due_at,
           COALESCE(${cappedLeaseSecondsSql('s.lease_asked', 'p.max_lease_seconds', 'COALESCE(s.step_lease_seconds, p.lease_seconds)')}, s.step_lease_seconds, p.lease_seconds) AS lease_duration
    FROM ${steps} AS s JOIN oms.pools AS p ON p.name = s.pool
  ) AS s
  ON CONFLICT ON CONSTRAINT tasks_request_step_key DO NOTHING
  RETURNING id, request_id, step_id, pool, priority, tags, sla_due_at, attempt, worker, lease_id, lease_expires_at, lease_seconds, available_at, updated_at`;
}

/**
 * The `oms.task.queued` events of the tasks a queueing statement inserted (`from`: its
 * {@link insertQueuedTasksSql} rows, seen as `r`), as the transactional path emits them.
 */
function taskQueuedOutboxSql(spec: { from: string; at: string; actor: string; headers: string }): string {
  return outboxInsertSql({
    schema: 'oms',
    source: 'oms',
    type: 'oms.task.queued',
    from: spec.from,
    at: isoTimestampSql(spec.at),
    actor: spec.actor,
    requestId: 'r.request_id',
    headers: spec.headers,
    data: {
      taskId: 'r.id',
      stepId: 'r.step_id',
      pool: 'r.pool',
      priority: 'r.priority',
      tags: 'to_jsonb(r.tags)',
      attempt: '0',
      slaDueAt: isoTimestampSql('r.sla_due_at'),
    },
  });
}

/**
 * The steps to queue as the relation {@link insertQueuedTasksSql} reads, from parameters $1-$13
 * ({@link stepArrayParameters}: one array element per task; tags as JSON, since an SQL array of
 * arrays must be rectangular), with `extra` columns (name, array parameter) beside them.
 */
function stepArraysSql(extra: Array<[string, string]> = []): string {
  return `SELECT s.id, s.request_id, s.step_id, s.pool, s.title,
         ARRAY(SELECT tag FROM jsonb_array_elements_text(s.tags::jsonb) WITH ORDINALITY AS t(tag, n) ORDER BY n) AS tags,
         s.priority, s.step_attempts, s.retry, s.payload, s.input, s.step_lease_seconds, s.step_sla_minutes,${extra.map(([name]) => ` s.${name},`).join('')}
         NULL::text AS worker, NULL::text AS lease_token, NULL::uuid AS lease_id, NULL::int AS lease_asked, NULL::timestamptz AS granted_at
  FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::int[], $9::text[], $10::text[], $11::text[], $12::int[], $13::float8[]${extra.map(([, parameter]) => `, ${parameter}`).join('')})
    AS s(id, request_id, step_id, pool, title, tags, priority, step_attempts, retry, payload, input, step_lease_seconds, step_sla_minutes${extra.map(([name]) => `, ${name}`).join('')})`;
}

/** Parameters $1-$13 of {@link stepArraysSql}. */
function stepArrayParameters(tasks: Array<{ step: StepTask; taskId: string }>): unknown[] {
  const steps = tasks.map(({ step }) => step);
  return [
    tasks.map(({ taskId }) => taskId),
    steps.map((step) => step.requestId),
    steps.map((step) => step.stepId),
    steps.map((step) => step.pool),
    steps.map((step) => step.title),
    steps.map((step) => JSON.stringify(step.tags)),
    steps.map((step) => step.priority),
    steps.map((step) => step.retry?.attempts ?? null),
    steps.map(retryWithoutAttempts),
    steps.map((step) => JSON.stringify(step.payload)),
    steps.map((step) => JSON.stringify(step.input)),
    steps.map((step) => step.leaseSeconds),
    steps.map((step) => step.slaMinutes),
  ];
}

/*
 * `act.step.ready` in one statement and so one round trip, with no transaction around it: claim
 * the event, read the pool's defaults, insert the task ({@link insertQueuedTasksSql}) and its
 * `oms.task.queued` event. It does what {@link QUEUE_STEPS_SQL} does in the consumer's
 * transaction, for an existing pool. Nothing is written when the pool is missing (the
 * transactional path creates it) or the event was claimed before; a second ready for a step
 * that has a task claims the event and queues nothing (tasks_request_step_key).
 *
 * Hand-off ($19 worker not null): the task is inserted already leased to that worker, with the
 * grant time the statement's own clock, and `oms.task.leased` follows `oms.task.queued` in the
 * outbox. The leased event's insert reads the queued event's RETURNING, so the queued event's
 * row (and its outbox id) is made first and the relay publishes them in that order. The worker
 * is seen at the grant, as lease-acquire.sql.ts sees the workers it leases to: its call lasted
 * until now, and the liveness window it must next call within starts here, not at its parked
 * call's last look (up to half a window before). Lock order: the new task, then the worker row,
 * as every lease-holder statement takes them.
 *
 * Every row it reads or writes is reached by key, so it runs on the GenericPlanPool: planned
 * once per connection, which saves a third of the statement on the idle pickup path.
 */
export const QUEUE_LONE_STEP_SQL = `
WITH clock AS MATERIALIZED (
  SELECT date_trunc('milliseconds', GREATEST($13::timestamptz, clock_timestamp())) AS granted_at
),
pool AS (
  SELECT 1 FROM oms.pools WHERE name = $4::text
),
claimed AS (
  ${claimProcessedEventSql({ schema: 'oms', consumer: '$15::text', eventIds: 'unnest(ARRAY[$16::uuid])', onlyIf: 'EXISTS (SELECT 1 FROM pool)' })}
),
step AS (
  SELECT $1::uuid AS id, $2::text AS request_id, $3::text AS step_id, $4::text AS pool, $5::text AS title, $6::text[] AS tags, $7::int AS priority,
         $8::int AS step_attempts, $9::text AS retry, $10::text AS payload, $25::text AS input, $11::int AS step_lease_seconds, $12::float8 AS step_sla_minutes,
         $19::text AS worker, $20::text AS lease_token, $21::uuid AS lease_id, $22::int AS lease_asked, c.granted_at
  FROM clock AS c
  WHERE EXISTS (SELECT 1 FROM claimed)
),
queued AS (
  ${insertQueuedTasksSql('step', '$13::timestamptz', '$14::int')}
),
seen AS (
  INSERT INTO oms.workers AS w (id, first_seen_at, last_seen_at)
  SELECT q.worker, q.updated_at, q.updated_at FROM queued AS q WHERE q.worker IS NOT NULL
  ON CONFLICT (id) DO UPDATE SET last_seen_at = GREATEST(w.last_seen_at, EXCLUDED.last_seen_at)
),
emitted AS (
  ${taskQueuedOutboxSql({ from: 'queued', at: '$13::timestamptz', actor: '$17::text', headers: '$18::jsonb' })}
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

/*
 * Many `act.step.ready` in the consumer's transaction, in one statement: the steps come as
 * arrays (one element per task; tags as JSON, since an SQL array of arrays must be
 * rectangular), are inserted by {@link insertQueuedTasksSql} as the lone statement inserts one,
 * and the statement returns the tasks it queued and the pools it found missing (their steps are
 * not queued; the caller creates the pools and queues those steps again). The consumer has
 * claimed the events; the caller emits `oms.task.queued` for what was queued.
 */
export const QUEUE_STEPS_SQL = `
WITH step AS (
  ${stepArraysSql()}
),
queued AS (
  ${insertQueuedTasksSql('step', '$14::timestamptz', '$15::int')}
)
SELECT m.missing_pools, q.id, q.request_id, q.step_id, q.priority, q.sla_due_at
FROM (SELECT array_agg(DISTINCT s.pool) FILTER (WHERE NOT EXISTS (SELECT 1 FROM oms.pools AS p WHERE p.name = s.pool)) AS missing_pools FROM step AS s) AS m
LEFT JOIN queued AS q ON true`;

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
    retryWithoutAttempts(step),
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

/** The step's retry policy as both statements take it: attempts are set from the step or the pool there. */
function retryWithoutAttempts(step: StepTask): string {
  return JSON.stringify(effectiveRetryPolicy(step.retry, 0));
}

export interface QueueStepsParams {
  /** At most one per (request, step): a second would be a conflict within the statement. */
  steps: Array<{ step: StepTask; taskId: string }>;
  now: Date;
  untimedDeadlineMinutes: number;
}

/** A task {@link queueSteps} queued. */
export interface QueuedStepTask {
  id: string;
  requestId: string;
  stepId: string;
  priority: number;
  slaDueAt: Date | null;
}

export interface QueueStepsResult {
  queued: QueuedStepTask[];
  /** Pools that do not exist: their steps were not queued. */
  missingPools: string[];
}

/** Queues the steps' tasks in one statement ({@link QUEUE_STEPS_SQL}), in the caller's transaction. */
export async function queueSteps(db: StatementTarget, params: QueueStepsParams): Promise<QueueStepsResult> {
  const rows = await preparedQuery<QueueStepsRow>(db, 'oms_queue_steps', QUEUE_STEPS_SQL, [
    ...stepArrayParameters(params.steps),
    params.now,
    params.untimedDeadlineMinutes,
  ]);
  return {
    missingPools: rows[0]?.missing_pools ?? [],
    queued: rows.flatMap((row) =>
      row.id === null ? [] : [{ id: row.id, requestId: row.request_id!, stepId: row.step_id!, priority: row.priority!, slaDueAt: row.sla_due_at }],
    ),
  };
}

interface QueueStepsRow {
  missing_pools: string[] | null;
  id: string | null;
  request_id: string | null;
  step_id: string | null;
  priority: number | null;
  sla_due_at: Date | null;
}

/*
 * A consumer batch of `act.step.ready` in one statement, with no transaction around it (the
 * consumer's handleAtOnce): claim every event of the batch, insert the tasks of the events
 * claimed now ({@link insertQueuedTasksSql}, as {@link QUEUE_STEPS_SQL} does) and their
 * `oms.task.queued` events, atomically by being one statement. Nothing is written when a pool
 * is missing (the transactional path creates it); a step that has a task already queues
 * nothing (tasks_request_step_key), as does an event claimed before. The claim is read by the
 * insert, so no task is queued for an event that was not claimed by this statement.
 *
 * Runs on the GenericPlanPool, as the lone-step statement does: every row is reached by key
 * (pools by name, the claim and the tasks by their unique keys), whatever the batch's size, on
 * an empty table as on a deep one (generic-plans.int-spec.ts). Planned afresh it took 1.4 ms per
 * batch in pickup at 200/s, about half its execution time.
 */
export const QUEUE_STEPS_AT_ONCE_SQL = `
WITH batch AS (
  ${stepArraysSql([
    ['event_id', '$18::uuid[]'],
    ['actor', '$19::text[]'],
    ['headers', '$20::text[]'],
  ])}
),
pools AS (
  SELECT NOT EXISTS (SELECT 1 FROM batch AS s WHERE NOT EXISTS (SELECT 1 FROM oms.pools AS p WHERE p.name = s.pool)) AS found
),
claimed AS (
  ${claimProcessedEventSql({ schema: 'oms', consumer: '$16::text', eventIds: 'unnest($17::uuid[])', onlyIf: '(SELECT found FROM pools)' })}
),
fresh AS (
  SELECT s.* FROM batch AS s WHERE s.event_id IN (SELECT event_id FROM claimed)
),
queued AS (
  ${insertQueuedTasksSql('fresh', '$14::timestamptz', '$15::int')}
),
emitted AS (
  ${taskQueuedOutboxSql({ from: '(SELECT q.*, f.actor, f.headers FROM queued AS q JOIN fresh AS f ON f.id = q.id)', at: '$14::timestamptz', actor: 'r.actor', headers: 'r.headers::jsonb' })}
)
-- The claimed ids on one row only: an array on every row is parsed again for each task (a
-- thousand-event batch was a million ids parsed in OMS).
SELECT (SELECT found FROM pools) AS pools_found,
       CASE WHEN row_number() OVER () = 1 THEN ARRAY(SELECT event_id FROM claimed) END AS claimed,
       q.id, q.pool, q.tags
FROM (SELECT 1) AS one LEFT JOIN queued AS q ON true`;

export interface QueueStepsAtOnceParams {
  /** At most one per (request, step), each with the event that asked for it and that event's actor and trace headers. */
  steps: Array<{ step: StepTask; taskId: string; eventId: string; actor: string; traceHeaders: string | null }>;
  /** Every event of the batch, those of the steps above and any other (a second ready of a step): all are claimed. */
  eventIds: string[];
  consumer: string;
  now: Date;
  untimedDeadlineMinutes: number;
}

export interface QueueStepsAtOnceResult {
  /** False: a pool does not exist yet; nothing was written. */
  poolsFound: boolean;
  /** The events claimed now (lower case); the others were handled before. */
  claimed: Set<string>;
  /** The tasks queued. */
  queued: Array<{ id: string; pool: string; tags: string[] }>;
}

/** Queues a batch's steps and claims its events, atomically on its own ({@link QUEUE_STEPS_AT_ONCE_SQL}). */
export async function queueStepsAtOnce(db: StatementTarget, params: QueueStepsAtOnceParams): Promise<QueueStepsAtOnceResult> {
  const rows = await preparedQuery<QueueStepsAtOnceRow>(db, 'oms_queue_steps_at_once', QUEUE_STEPS_AT_ONCE_SQL, [
    ...stepArrayParameters(params.steps),
    params.now,
    params.untimedDeadlineMinutes,
    params.consumer,
    params.eventIds,
    params.steps.map(({ eventId }) => eventId),
    params.steps.map(({ actor }) => actor),
    params.steps.map(({ traceHeaders }) => traceHeaders),
  ]);
  const first = rows[0]!;
  return {
    poolsFound: first.pools_found,
    claimed: new Set(rows.find((row) => row.claimed !== null)?.claimed ?? []),
    queued: rows.flatMap((row) => (row.id === null ? [] : [{ id: row.id, pool: row.pool!, tags: row.tags ?? [] }])),
  };
}

interface QueueStepsAtOnceRow {
  pools_found: boolean;
  /** On one row of the answer, null on the others. */
  claimed: string[] | null;
  id: string | null;
  pool: string | null;
  tags: string[] | null;
}
