import { claimProcessedEventSql, isoTimestampSql, outboxInsertSql, preparedQuery } from '@hms/platform';
import type { RetryPolicy } from '@hms/contracts';
import type { EntityManager } from 'typeorm';
import { effectiveRetryPolicy } from '../leases/backoff';

/** A step's task as `act.step.ready` asks for it; unset settings come from the pool. */
export interface StepTask {
  requestId: string;
  stepId: string;
  pool: string;
  title: string;
  tags: string[];
  priority: number;
  /** The step's own retry policy, if it has one (completed with the pool's attempts and the defaults when queued). */
  retry: RetryPolicy | null;
  payload: Record<string, unknown>;
  leaseSeconds: number | null;
  slaMinutes: number | null;
}

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
}

export interface QueueLoneStepResult {
  /** False: the pool does not exist yet; nothing was written. */
  poolFound: boolean;
  /** False: this event was handled before; nothing was written. */
  claimed: boolean;
  /** The new task, or null when the step already had one. */
  task: { id: string; tags: string[] } | null;
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
 */
const QUEUE_LONE_STEP_SQL = `
WITH pool AS (
  SELECT max_attempts, lease_seconds, sla_minutes FROM oms.pools WHERE name = $4::text
),
claimed AS (
  ${claimProcessedEventSql({ schema: 'oms', consumer: '$15::text', eventIds: 'unnest(ARRAY[$16::uuid])', onlyIf: 'EXISTS (SELECT 1 FROM pool)' })}
),
settings AS (
  SELECT COALESCE($8::int, p.max_attempts) AS attempts,
         COALESCE($11::int, p.lease_seconds) AS lease_seconds,
         $13::timestamptz + COALESCE($12::float8, p.sla_minutes) * interval '1 minute' AS sla_due_at
  FROM pool AS p
  WHERE EXISTS (SELECT 1 FROM claimed)
),
queued AS (
  INSERT INTO oms.tasks (id, request_id, step_id, pool, title, tags, priority, status, attempt, max_attempts, retry, payload,
                         lease_seconds, sla_due_at, pick_by, available_at, queued_at, created_at, updated_at)
  SELECT $1::uuid, $2::text, $3::text, $4::text, $5::text, $6::text[], $7::int, 'queued', 0, s.attempts, jsonb_set($9::jsonb, '{attempts}', to_jsonb(s.attempts)), $10::jsonb,
         s.lease_seconds, s.sla_due_at, COALESCE(s.sla_due_at, $13::timestamptz + $14::int * interval '1 minute'), $13, $13, $13, $13
  FROM settings AS s
  ON CONFLICT ON CONSTRAINT tasks_request_step_key DO NOTHING
  RETURNING id, request_id, step_id, pool, priority, tags, sla_due_at
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
)
SELECT EXISTS (SELECT 1 FROM pool) AS pool_found, EXISTS (SELECT 1 FROM claimed) AS claimed, q.id, q.tags
FROM (SELECT 1) AS one LEFT JOIN queued AS q ON true`;

/** Queues a lone step's task, claiming its event, atomically on its own (one statement). */
export async function queueLoneStep(db: EntityManager, params: QueueLoneStepParams): Promise<QueueLoneStepResult> {
  const { step } = params;
  const [row] = await preparedQuery<{ pool_found: boolean; claimed: boolean; id: string | null; tags: string[] | null }>(db, 'oms_queue_lone_step', QUEUE_LONE_STEP_SQL, [
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
  ]);
  return { poolFound: row!.pool_found, claimed: row!.claimed, task: row!.id ? { id: row!.id, tags: row!.tags ?? [] } : null };
}
