import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  DEFAULT_PAGE_SIZE,
  DomainError,
  EscalationSteps,
  isUuid,
  type Actor,
  type AlertKind,
  type AlertView,
  type AnyHmsEvent,
  type EventDataMap,
  type ListAlertsQuery,
  type Page,
} from '@hms/contracts';
import {
  claimProcessedEventSql,
  CLOCK,
  decodeTimeIdCursor,
  encodeTimeIdCursor,
  EventOutbox,
  outboxInsertSql,
  pageThatFits,
  preparedQuery,
  storableText,
  type AtOnceEvent,
  type AtOnceOutcome,
  type Clock,
  type Emit,
} from '@hms/platform';
import { DataSource, type EntityManager } from 'typeorm';
import { alertTransition, type AlertAction } from './alert.state';
import { toAlertView, type AlertRow } from './alert.view';

/** Who OPS's own changes to alerts are recorded as. */
export const OPS_ACTOR = 'system:ops';

interface RaisedAlert {
  kind: AlertKind;
  subjectId: string;
  pool: string | null;
  requestId: string | null;
  taskId: string | null;
  stepId: string | null;
  message: string;
  at: string;
}

interface Resolution {
  resolution: string;
  at: string;
}

/**
 * The message of a parked event's alert. Built only from the event's identity and its bounded
 * error, each coerced and cut to size: the `platform.event.parked` event must not be able to
 * fail here in turn (a consumer that parked one of these would raise nothing more).
 */
export function parkedEventAlertMessage(data: Partial<Record<keyof EventDataMap['platform.event.parked'], unknown>>): string {
  const text = (value: unknown, max: number) => storableText(typeof value === 'string' || typeof value === 'number' ? String(value) : '?', max);
  return `Event ${text(data.eventType, 200)} (${text(data.eventId, 40)}) was parked by ${text(data.service, 20)}'s consumer '${text(data.consumer, 100)}' after ${text(data.deliveries, 10)} failed deliveries: ${text(data.error, 500)}`;
}

/**
 * The request events that raise an alert (a breached SLA) or resolve one (the request ended):
 * what OPS's consumer of `act.request.>` handles ({@link AlertsService.onEvents}); it
 * acknowledges the others unread.
 */
export const REQUEST_EVENTS_ALERTED = new Set<AnyHmsEvent['type']>(['act.request.sla-breached', 'act.request.completed', 'act.request.rejected', 'act.request.failed', 'act.request.cancelled']);

/** The alert an event raises, if any. */
function alertRaisedBy(event: AnyHmsEvent): RaisedAlert | null {
  const requestId = isUuid(event.requestId) ? event.requestId : null;
  switch (event.type) {
    case 'oms.task.sla-breached': {
      const { taskId, stepId, pool, slaDueAt, status } = event.data;
      return { kind: 'task-sla-breached', subjectId: taskId, pool, requestId, taskId, stepId, at: event.at, message: `Task '${stepId}' in pool '${pool}' passed its SLA (due ${slaDueAt}) while ${status}` };
    }
    case 'oms.task.dead': {
      const { taskId, stepId, pool, attempts, error } = event.data;
      const cause = error?.message ? `: ${error.message}` : '';
      return { kind: 'task-dead', subjectId: taskId, pool, requestId, taskId, stepId, at: event.at, message: `Task '${stepId}' in pool '${pool}' is dead after ${attempts} attempt(s)${cause}` };
    }
    case 'act.request.sla-breached':
      if (!requestId) return null;
      return {
        kind: 'request-sla-breached',
        subjectId: requestId,
        pool: null,
        requestId,
        taskId: null,
        stepId: null,
        at: event.at,
        message: `Request of plan '${event.data.plan}' passed its SLA (due ${event.data.slaDueAt})`,
      };
    case 'platform.event.parked': {
      if (!isUuid(event.data?.parkedId)) return null;
      return { kind: 'event-parked', subjectId: event.data.parkedId, pool: null, requestId, taskId: null, stepId: null, at: event.at, message: parkedEventAlertMessage(event.data) };
    }
    default:
      return null;
  }
}

/** Whether any of the events raises an alert (then one may be due for escalation at once). */
export function raisesAlerts(events: AnyHmsEvent[]): boolean {
  return events.some((event) => alertRaisedBy(event) !== null);
}

const ALERT_COLUMNS = `"id", "kind", "status", "pool", "request_id", "task_id", "step_id", "message", "raised_at", "escalation_due_at", "escalated_at",
  "escalation_pool", "webhook_url", "webhook_status", "webhook_attempts", "webhook_next_at", "webhook_delivered_at", "webhook_last_error",
  "acknowledged_at", "acknowledged_by", "resolved_at", "resolved_by", "resolution"`;

/**
 * CTEs resolving the open alerts of `target` (a relation of alert id, resolution, at; an alert
 * named twice takes its earliest); `resolved` returns their rows: the one way an ended subject
 * resolves alerts.
 */
function resolveTargetsSql(target: string): string {
  return `chosen AS (SELECT DISTINCT ON ("id") "id", resolution, at FROM ${target} ORDER BY "id", at),
       resolved AS (
         UPDATE "ops"."alerts" AS a SET "status" = 'resolved', "resolved_at" = c.at, "resolved_by" = '${OPS_ACTOR}', "resolution" = c.resolution
         FROM chosen AS c WHERE a."id" = c."id" AND a."status" <> 'resolved'
         RETURNING ${ALERT_COLUMNS.replace(/"(\w+)"/g, 'a."$1"')}
       )`;
}

/** The request events that only resolve (a request ended): what the one-statement path takes. */
const REQUEST_ENDS = new Set<AnyHmsEvent['type']>(['act.request.completed', 'act.request.rejected', 'act.request.failed', 'act.request.cancelled']);

/*
 * A consumer batch of request ends in one statement, with no transaction (AlertsService.
 * resolveRequestEndsAtOnce): claims the events, resolves the open SLA alerts of the requests
 * whose events it claimed now (as resolveEnded does) and emits their `ops.alert.resolved`, the
 * effect reading the claim, so an event claimed before resolves nothing again.
 */
const RESOLVE_REQUEST_ENDS_AT_ONCE_SQL = `
WITH claimed AS (
  ${claimProcessedEventSql({ schema: 'ops', consumer: '$5::text', eventIds: 'unnest($1::uuid[])' })}
),
target AS (
  SELECT a."id", e.resolution, e.at FROM "ops"."alerts" AS a
    JOIN unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[]) AS e(event_id, request_id, resolution, at) ON a."request_id" = e.request_id
    WHERE a."status" <> 'resolved' AND a."kind" = 'request-sla-breached' AND e.event_id IN (SELECT event_id FROM claimed)
),
${resolveTargetsSql('target')},
emitted AS (
  ${outboxInsertSql({
    schema: 'ops',
    source: 'ops',
    type: 'ops.alert.resolved',
    from: 'resolved',
    at: '$6::text',
    actor: `'${OPS_ACTOR}'`,
    requestId: 'r.request_id::text',
    headers: 'NULL',
    data: { alertId: 'r.id', kind: 'r.kind', resolution: 'r.resolution' },
  })}
)
SELECT ARRAY(SELECT event_id FROM claimed) AS claimed, (SELECT count(*) FROM resolved)::int AS resolved`;

/**
 * Alerts (API.md: "An SLA breach … raises one alert (not one per tick), runs the pool's
 * escalation … and is in the ledger"): raised and resolved from the event stream in the
 * consumers' transactions, acknowledged and resolved by managers. Each change goes out as an
 * `ops.alert.*` event carrying the request's id, so the ledger holds it in that request's history.
 */
@Injectable()
export class AlertsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly outbox: EventOutbox,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /**
   * Raises the alerts of a batch's breaches and dead tasks (once each), then resolves those whose
   * subject has ended: a late task completed or cancelled, a late request ended, or an alert's
   * escalation task completed. A handful of set-based statements per batch, whatever its size.
   */
  async onEvents(events: AnyHmsEvent[], tx: EntityManager, emit: Emit): Promise<void> {
    const raised: RaisedAlert[] = [];
    const endedTasks = new Map<string, Resolution>();
    const endedRequests = new Map<string, Resolution>();
    const escalationsDone = new Map<string, Resolution>();
    const replayedParked = new Map<string, Resolution>();
    for (const event of events) {
      const alert = alertRaisedBy(event);
      if (alert) {
        raised.push(alert);
        continue;
      }
      switch (event.type) {
        case 'oms.task.completed': {
          endedTasks.set(event.data.taskId, { resolution: `task completed by ${event.data.worker}`, at: event.at });
          const alertId = EscalationSteps.alertIdOf(event.data.stepId);
          if (alertId && isUuid(alertId)) escalationsDone.set(alertId, { resolution: `escalation task completed by ${event.data.worker}`, at: event.at });
          break;
        }
        case 'oms.task.cancelled':
          endedTasks.set(event.data.taskId, { resolution: `task cancelled: ${event.data.reason}`, at: event.at });
          break;
        case 'act.request.completed':
        case 'act.request.rejected':
        case 'act.request.failed':
        case 'act.request.cancelled':
          if (isUuid(event.requestId)) endedRequests.set(event.requestId, { resolution: `request ${event.type.slice('act.request.'.length)}`, at: event.at });
          break;
        case 'platform.event.replayed':
          if (isUuid(event.data?.parkedId)) replayedParked.set(event.data.parkedId, { resolution: `event replayed by ${storableText(String(event.actor), 200)}`, at: event.at });
          break;
        default:
          break;
      }
    }
    if (raised.length > 0) await this.raise(raised, tx, emit);
    if (endedTasks.size + endedRequests.size + escalationsDone.size + replayedParked.size > 0) await this.resolveEnded(endedTasks, endedRequests, escalationsDone, replayedParked, tx, emit);
  }

  /**
   * The `ops-requests` consumer's handleAtOnce: a batch of request ends ({@link onEvents} for
   * them: their requests' SLA alerts resolved, `ops.alert.resolved` emitted) in one statement
   * that also claims the events, with no transaction. Declines a batch holding a breach (its
   * alert is raised, and the escalation poked, by the transaction).
   */
  async resolveRequestEndsAtOnce(events: AtOnceEvent[], consumer: string): Promise<AtOnceOutcome> {
    if (!events.every(({ event }) => REQUEST_ENDS.has(event.type))) return 'declined';
    // As onEvents: an event without a request id is claimed and resolves nothing.
    const ends = events.map(({ event }) => ({ id: event.id, requestId: isUuid(event.requestId) ? event.requestId : null, resolution: `request ${event.type.slice('act.request.'.length)}`, at: event.at }));
    const [row] = await preparedQuery<{ claimed: string[]; resolved: number }>(this.dataSource.manager, 'ops_resolve_request_ends_at_once', RESOLVE_REQUEST_ENDS_AT_ONCE_SQL, [
      ends.map((end) => end.id),
      ends.map((end) => end.requestId),
      ends.map((end) => end.resolution),
      ends.map((end) => end.at),
      consumer,
      this.clock.now().toISOString(),
    ]);
    if (row!.resolved > 0) this.outbox.kick();
    return { handled: new Set(row!.claimed) };
  }

  private async raise(alerts: RaisedAlert[], tx: EntityManager, emit: Emit): Promise<void> {
    // A request's alert has no pool, hence no escalation to run; a task's is due at once and
    // the sweep applies the pool's afterMinutes when it reads the policy.
    const rows = await preparedQuery<AlertRow>(
      tx,
      'ops_alerts_raise',
      `INSERT INTO "ops"."alerts" ("id", "kind", "subject_id", "status", "pool", "request_id", "task_id", "step_id", "message", "raised_at", "escalation_due_at")
       SELECT a.id, a.kind, a.subject_id, 'open', a.pool, a.request_id, a.task_id, a.step_id, a.message, a.at, CASE WHEN a.pool IS NULL THEN NULL ELSE a.at END
       FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::uuid[], $6::uuid[], $7::text[], $8::text[], $9::timestamptz[])
         AS a(id, kind, subject_id, pool, request_id, task_id, step_id, message, at)
       ON CONFLICT ("kind", "subject_id") DO NOTHING
       RETURNING ${ALERT_COLUMNS}`,
      [
        alerts.map(() => randomUUID()),
        alerts.map((a) => a.kind),
        alerts.map((a) => a.subjectId),
        alerts.map((a) => a.pool),
        alerts.map((a) => a.requestId),
        alerts.map((a) => a.taskId),
        alerts.map((a) => a.stepId),
        alerts.map((a) => a.message),
        alerts.map((a) => a.at),
      ],
    );
    for (const row of rows) {
      emit('ops.alert.raised', row.request_id, { alertId: row.id, kind: row.kind, pool: row.pool, taskId: row.task_id, stepId: row.step_id, message: row.message }, OPS_ACTOR);
    }
  }

  private async resolveEnded(
    tasks: Map<string, Resolution>,
    requests: Map<string, Resolution>,
    escalations: Map<string, Resolution>,
    replayedParked: Map<string, Resolution>,
    tx: EntityManager,
    emit: Emit,
  ): Promise<void> {
    const rows = await preparedQuery<AlertRow>(
      tx,
      'ops_alerts_resolve_ended',
      `WITH target AS (
         SELECT a."id", e.resolution, e.at FROM "ops"."alerts" AS a
           JOIN unnest($1::uuid[], $2::text[], $3::timestamptz[]) AS e(task_id, resolution, at) ON a."task_id" = e.task_id
           WHERE a."status" <> 'resolved' AND a."kind" = 'task-sla-breached'
         UNION ALL
         SELECT a."id", e.resolution, e.at FROM "ops"."alerts" AS a
           JOIN unnest($4::uuid[], $5::text[], $6::timestamptz[]) AS e(request_id, resolution, at) ON a."request_id" = e.request_id
           WHERE a."status" <> 'resolved' AND a."kind" = 'request-sla-breached'
         UNION ALL
         SELECT a."id", e.resolution, e.at FROM "ops"."alerts" AS a
           JOIN unnest($7::uuid[], $8::text[], $9::timestamptz[]) AS e(alert_id, resolution, at) ON a."id" = e.alert_id
           WHERE a."status" <> 'resolved'
         UNION ALL
         SELECT a."id", e.resolution, e.at FROM "ops"."alerts" AS a
           JOIN unnest($10::uuid[], $11::text[], $12::timestamptz[]) AS e(parked_id, resolution, at) ON a."kind" = 'event-parked' AND a."subject_id" = e.parked_id
           WHERE a."status" <> 'resolved'
       ),
       ${resolveTargetsSql('target')}
       SELECT * FROM resolved`,
      [
        [...tasks.keys()],
        [...tasks.values()].map((r) => r.resolution),
        [...tasks.values()].map((r) => r.at),
        [...requests.keys()],
        [...requests.values()].map((r) => r.resolution),
        [...requests.values()].map((r) => r.at),
        [...escalations.keys()],
        [...escalations.values()].map((r) => r.resolution),
        [...escalations.values()].map((r) => r.at),
        [...replayedParked.keys()],
        [...replayedParked.values()].map((r) => r.resolution),
        [...replayedParked.values()].map((r) => r.at),
      ],
    );
    for (const row of rows) emit('ops.alert.resolved', row.request_id, { alertId: row.id, kind: row.kind, resolution: row.resolution! }, OPS_ACTOR);
  }

  /** Newest first, by status, pool or request; cursor pagination. */
  async list(query: ListAlertsQuery, maxPayload: number): Promise<Page<AlertView>> {
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const cursor = query.cursor !== undefined ? decodeTimeIdCursor(query.cursor) : null;
    const rows: AlertRow[] = await this.dataSource.query(
      `SELECT ${ALERT_COLUMNS} FROM "ops"."alerts"
       WHERE ($1::text IS NULL OR "status" = $1) AND ($2::text IS NULL OR "pool" = $2) AND ($3::uuid IS NULL OR "request_id" = $3)
         AND ($4::timestamptz IS NULL OR ("raised_at", "id") < ($4, $5::uuid))
       ORDER BY "raised_at" DESC, "id" DESC
       LIMIT $6`,
      [query.status ?? null, query.pool ?? null, query.requestId ?? null, cursor?.at ?? null, cursor?.id ?? null, limit + 1],
    );
    return pageThatFits(rows, limit, toAlertView, (last) => encodeTimeIdCursor({ at: last.raised_at, id: last.id }), maxPayload);
  }

  acknowledge(id: string, actor: Actor): Promise<AlertView> {
    return this.act(id, 'acknowledge', actor, null);
  }

  resolve(id: string, actor: Actor, reason: string | undefined): Promise<AlertView> {
    return this.act(id, 'resolve', actor, reason ?? `resolved by ${actor.id}`);
  }

  private async act(id: string, action: AlertAction, actor: Actor, resolution: string | null): Promise<AlertView> {
    if (!isUuid(id)) throw DomainError.notFound('Alert', id);
    return this.outbox.transaction(async (tx, emit) => {
      const [row] = (await tx.query(`SELECT ${ALERT_COLUMNS} FROM "ops"."alerts" WHERE "id" = $1 FOR UPDATE`, [id])) as AlertRow[];
      if (!row) throw DomainError.notFound('Alert', id);
      const next = alertTransition(row.status, action);
      if (next === 'refused') throw new DomainError('CONFLICT', `Alert '${id}' is ${row.status}; it can no longer be ${action}d`);
      if (next === 'unchanged') return toAlertView(row);
      const now = this.clock.now();
      const [updated] = (await tx.query(
        next === 'acknowledged'
          ? `UPDATE "ops"."alerts" SET "status" = 'acknowledged', "acknowledged_at" = $2, "acknowledged_by" = $3 WHERE "id" = $1 RETURNING ${ALERT_COLUMNS}`
          : `UPDATE "ops"."alerts" SET "status" = 'resolved', "resolved_at" = $2, "resolved_by" = $3, "resolution" = $4 WHERE "id" = $1 RETURNING ${ALERT_COLUMNS}`,
        next === 'acknowledged' ? [id, now, actor.id] : [id, now, actor.id, resolution],
      )) as [AlertRow[], number];
      const alert = updated[0]!;
      if (next === 'acknowledged') emit('ops.alert.acknowledged', alert.request_id, { alertId: alert.id, kind: alert.kind }, actor.id);
      else emit('ops.alert.resolved', alert.request_id, { alertId: alert.id, kind: alert.kind, resolution: alert.resolution! }, actor.id);
      return toAlertView(alert);
    });
  }
}
