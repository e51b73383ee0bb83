import { Inject, Injectable } from '@nestjs/common';
import {
  DEFAULT_PAGE_SIZE,
  DomainError,
  EscalationSteps,
  REROUTE_QUEUE_DEFAULT_LIMIT,
  SLUG_PATTERN,
  type Actor,
  type HmsEvent,
  type ListTasksQuery,
  type Page,
  type QueuePeekResult,
  type RerouteQueueCommand,
  type RerouteQueueResult,
  type RerouteTaskCommand,
  type TaskView,
  isUuid,
} from '@hms/contracts';
import { CLOCK, currentTraceHeaders, decodeTimeIdCursor, encodeTimeIdCursor, EventOutbox, GenericPlanPool, InjectLogger, pageThatFits, type Clock, type Emit, type AtOnceEvent, type AtOnceOutcome, type ManyEvent } from '@hms/platform';
import type { Logger } from 'pino';
import { DataSource, type EntityManager } from 'typeorm';
import { randomUUID } from 'node:crypto';
import { AfterCommit } from '../database/after-commit';
import { queryRows } from '../database/query-rows';
import { TaskSignals } from '../leases/task-signals';
import { OmsConfig } from '../oms.config';
import { PoolsService } from '../pools/pools.service';
import { compareQueueOrder, QUEUE_ORDER_SQL } from './queue-order';
import { newLeaseCredentials } from '../leases/lease-credentials';
import type { WaiterLeaseTerms } from '../leases/task-signals';
import { queueLoneStep, queueSteps, queueStepsAtOnce, type HandOffLease, type QueueLoneStepResult, type StepTask } from './queue-task.sql';
import { statesAccepting, transitionTask } from './task.state';
import { TASK_VIEW_COLUMNS, toQueuedTaskView, toTaskView, type TaskViewRow } from './task.view';

/** Tasks outside the lease path: queueing from ACT's events, cancel, reroute and the reads. */
@Injectable()
export class TasksService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly genericPlans: GenericPlanPool,
    private readonly pools: PoolsService,
    private readonly signals: TaskSignals,
    private readonly afterCommit: AfterCommit,
    private readonly config: OmsConfig,
    private readonly outbox: EventOutbox,
    @Inject(CLOCK) private readonly clock: Clock,
    @InjectLogger() private readonly logger: Logger,
  ) {}

  /**
   * `act.step.ready`: queue the step's task in its pool, at most once per (request, step).
   * Runs inside the consumer's transaction; waiters are woken once it commits.
   */
  async queueFromStep(event: HmsEvent<'act.step.ready'>, tx: EntityManager, emit: Emit): Promise<void> {
    await this.queueFromSteps([{ event, traceHeaders: currentTraceHeaders() }], tx, emit);
  }

  /**
   * A run of `act.step.ready` from the consumer's batch, queued together: the tasks in one
   * statement (two when a pool has to be created first), their `oms.task.queued` events in the
   * transaction's one outbox insert, and one wake-up per pool after the commit. The same effect
   * as queueing each alone, in order: the first ready of a (request, step) queues its task, a
   * later one (in this run or before it) queues nothing.
   */
  async queueFromSteps(events: ManyEvent<'act.step.ready'>[], tx: EntityManager, emit: Emit): Promise<void> {
    const items: QueueItem[] = [];
    for (const { event, traceHeaders } of events) {
      const step = this.stepTask(event);
      if (step) items.push({ step, actor: event.actor, traceHeaders });
      // Redelivering a malformed event would fail the same way forever.
      else this.logger.error({ eventId: event.id, requestId: event.requestId, data: event.data }, 'dropping an act.step.ready event that cannot be queued');
    }
    await this.queueTasks(items, tx, emit);
  }

  /**
   * An alert escalated to a pool: a task there for a person to handle it. It belongs to the
   * alert's request (its events are in that request's history) under the step id
   * `EscalationSteps.stepIdOf(alertId)`, which no plan step has, so the request's workflow
   * ignores it, and a repeated event queues nothing twice.
   */
  async queueEscalation(event: HmsEvent<'ops.alert.escalated'>, tx: EntityManager, emit: Emit): Promise<void> {
    const { alertId, escalationPool, kind, message, pool, taskId, stepId } = event.data;
    if (!escalationPool) return;
    if (!isUuid(event.requestId) || !isUuid(alertId) || !SLUG_PATTERN.test(escalationPool)) {
      this.logger.error({ eventId: event.id, requestId: event.requestId, data: event.data }, 'dropping an ops.alert.escalated event that cannot be queued');
      return;
    }
    const step: StepTask = {
      requestId: event.requestId,
      stepId: EscalationSteps.stepIdOf(alertId),
      pool: escalationPool,
      title: `Escalation: ${message}`.slice(0, 500),
      tags: [],
      priority: 0,
      retry: null,
      payload: { alertId, kind, pool, taskId, stepId, message },
      input: {},
      leaseSeconds: null,
      slaMinutes: null,
    };
    await this.queueTasks([{ step, actor: event.actor }], tx, emit);
  }

  /** An alert was resolved (its task finished, or a manager closed it): its escalation task, if still open, is no longer needed. */
  async cancelEscalation(event: HmsEvent<'ops.alert.resolved'>, tx: EntityManager, emit: Emit): Promise<void> {
    if (!isUuid(event.requestId) || !isUuid(event.data.alertId)) return;
    await this.cancelOpen(tx, emit, event.requestId, EscalationSteps.stepIdOf(event.data.alertId), `alert resolved: ${event.data.resolution}`, event.actor);
  }

  /**
   * Queues the items' tasks ({@link queueSteps}), creating the pools that do not exist yet, and
   * emits `oms.task.queued` for each task queued, in the items' order. One task per (request,
   * step): the first item of a step is the one queued, as if they had come one by one.
   */
  private async queueTasks(items: QueueItem[], tx: EntityManager, emit: Emit): Promise<void> {
    const firstOfStep = new Map<string, QueueItem & { taskId: string }>();
    for (const item of items) {
      const key = `${item.step.requestId}\u0000${item.step.stepId}`;
      if (!firstOfStep.has(key)) firstOfStep.set(key, { ...item, taskId: randomUUID() });
    }
    const steps = [...firstOfStep.values()];
    if (steps.length === 0) return;
    const now = this.clock.now();
    const untimedDeadlineMinutes = this.config.OMS_UNTIMED_TASK_DEADLINE_MINUTES;
    const { queued, missingPools } = await queueSteps(tx, { steps, now, untimedDeadlineMinutes });
    if (missingPools.length > 0) {
      // A pool named by a plan is created on its first task (with the defaults), then its steps are queued.
      const missing = new Set(missingPools);
      const waiting = steps.filter(({ step }) => missing.has(step.pool));
      for (const pool of missing) await this.pools.resolveForQueueing(tx, pool, emit, waiting.find(({ step }) => step.pool === pool)!.actor);
      queued.push(...(await queueSteps(tx, { steps: waiting, now, untimedDeadlineMinutes })).queued);
    }
    const byId = new Map(queued.map((task) => [task.id, task]));
    const announced = new Map<string, string[][]>();
    for (const { step, taskId, actor, traceHeaders } of steps) {
      const task = byId.get(taskId);
      if (!task) continue; // already queued for this (request, step): a duplicate ready is a no-op
      emit(
        'oms.task.queued',
        step.requestId,
        { taskId, stepId: step.stepId, pool: step.pool, priority: task.priority, tags: step.tags, attempt: 0, slaDueAt: task.slaDueAt?.toISOString() ?? null },
        actor,
        traceHeaders,
      );
      const tags = announced.get(step.pool);
      if (tags) tags.push(step.tags);
      else announced.set(step.pool, [step.tags]);
    }
    if (announced.size > 0) this.afterCommit.run(tx, () => announced.forEach((tags, pool) => this.signals.announce(pool, tags)));
  }

  /**
   * `act.step.ready` arriving alone (an idle stream: a worker may be waiting for it): the same
   * as {@link queueFromStep} in one statement that also claims the event, so the task is
   * queued, committed and announced after one round trip instead of six. Declines a malformed
   * event or a pool that does not exist yet; the transactional path handles those.
   *
   * When the first worker in line for the task on this replica is parked in a long poll, the
   * same statement leases the task to it: the worker gets it without a wake-up and a lease
   * statement of its own (the idle pickup path). It was parked because its last look found
   * nothing it could take, so the new task is what that look would find now.
   */
  private async queueLoneStep(event: HmsEvent<'act.step.ready'>, consumer: string, traceHeaders: string | null): Promise<AtOnceOutcome> {
    const step = this.stepTask(event);
    if (!step) return 'declined';
    const waiter = this.signals.reserveParked(step.pool, step.tags);
    let result: QueueLoneStepResult;
    try {
      result = await queueLoneStep(this.genericPlans, {
        step,
        taskId: randomUUID(),
        now: this.clock.now(),
        untimedDeadlineMinutes: this.config.OMS_UNTIMED_TASK_DEADLINE_MINUTES,
        consumer,
        eventId: event.id,
        actor: event.actor,
        traceHeaders,
        handOff: waiter?.terms ? handOffTo(waiter.terms) : null,
      });
    } catch (error) {
      waiter?.cancelReservation();
      throw error;
    }
    if (result.leased) waiter!.handOver([result.leased]);
    else waiter?.cancelReservation();
    if (!result.poolFound) return 'declined';
    if (!result.claimed) return { handled: new Set() };
    if (result.task) {
      this.outbox.kick();
      if (!result.leased) this.signals.announce(step.pool, [result.task.tags]);
    }
    return { handled: new Set([event.id.toLowerCase()]) };
  }

  /**
   * A consumer batch of `act.step.ready` (the consumer's handleAtOnce): the same as
   * {@link queueFromSteps} in one statement that also claims the events, with no transaction,
   * so the batch costs one round trip instead of five. A lone event takes
   * {@link queueLoneStep} (which can hand its task to a parked worker). Declines a batch with
   * another type of event, a malformed event or a pool that does not exist yet: the
   * transactional path handles those.
   */
  async queueStepsAtOnce(events: AtOnceEvent[], consumer: string): Promise<AtOnceOutcome> {
    if (events.length === 1 && events[0]!.event.type === 'act.step.ready') return this.queueLoneStep(events[0]!.event, consumer, events[0]!.traceHeaders);
    const firstOfStep = new Map<string, { step: StepTask; taskId: string; eventId: string; actor: string; traceHeaders: string | null }>();
    for (const { event, traceHeaders } of events) {
      if (event.type !== 'act.step.ready') return 'declined';
      const step = this.stepTask(event);
      if (!step) return 'declined';
      // The first ready of a (request, step) is the one that queues, as in queueTasks.
      const key = `${step.requestId}\u0000${step.stepId}`;
      if (!firstOfStep.has(key)) firstOfStep.set(key, { step, taskId: randomUUID(), eventId: event.id, actor: event.actor, traceHeaders });
    }
    const { poolsFound, claimed, queued } = await queueStepsAtOnce(this.genericPlans, {
      steps: [...firstOfStep.values()],
      eventIds: events.map(({ event }) => event.id),
      consumer,
      now: this.clock.now(),
      untimedDeadlineMinutes: this.config.OMS_UNTIMED_TASK_DEADLINE_MINUTES,
    });
    if (!poolsFound) return 'declined';
    if (queued.length > 0) {
      this.outbox.kick();
      const announced = new Map<string, string[][]>();
      for (const { pool, tags } of queued) announced.set(pool, [...(announced.get(pool) ?? []), tags]);
      announced.forEach((tags, pool) => this.signals.announce(pool, tags));
    }
    return { handled: claimed };
  }

  /** The task an `act.step.ready` asks for, normalised; null when it cannot be queued. */
  private stepTask(event: HmsEvent<'act.step.ready'>): StepTask | null {
    const step = event.data;
    if (!event.requestId || typeof step?.stepId !== 'string' || typeof step.pool !== 'string' || !SLUG_PATTERN.test(step.pool)) return null;
    return {
      requestId: event.requestId,
      stepId: step.stepId,
      pool: step.pool,
      title: step.title || step.stepId,
      tags: Array.isArray(step.tags) ? [...new Set(step.tags.filter((tag) => typeof tag === 'string'))] : [],
      priority: Math.trunc(step.priority ?? 0),
      retry: step.retry ?? null,
      payload: step.payload ?? {},
      // Absent in events emitted before inputs existed.
      input: typeof step.input === 'object' && step.input !== null && !Array.isArray(step.input) ? step.input : {},
      leaseSeconds: step.leaseSeconds ?? null,
      slaMinutes: step.slaMinutes ?? null,
    };
  }

  /**
   * A request ended while tasks were still open (cancelled, or rejected/failed with parallel
   * branches running): every open task of the request is cancelled, leases revoked. Escalation
   * tasks stay: a failed request is often what they are about.
   */
  async cancelRequest(
    event: HmsEvent<'act.request.cancelled'> | HmsEvent<'act.request.rejected'> | HmsEvent<'act.request.failed'>,
    tx: EntityManager,
    emit: Emit,
  ): Promise<void> {
    if (!event.requestId) return;
    const given = 'reason' in event.data && typeof event.data.reason === 'string' ? event.data.reason : '';
    const reason = given || `request ${event.type.slice('act.request.'.length)}`;
    await this.cancelOpen(tx, emit, event.requestId, null, reason, event.actor);
  }

  /** Cancels the request's open tasks (one step's, or all but its escalation tasks), revoking leases. */
  private async cancelOpen(tx: EntityManager, emit: Emit, requestId: string, stepId: string | null, reason: string, actor: string): Promise<void> {
    // Plain FOR UPDATE (not SKIP LOCKED): every open task must be cancelled, so wait for a
    // concurrent complete/lease to commit; Postgres then re-checks the status of the new row
    // version and leaves out what just completed. Index: tasks_request_step_key (request_id leads).
    const rows = await queryRows<{ id: string; step_id: string; pool: string; revoked_lease_id: string | null }>(
      tx,
      `WITH open AS MATERIALIZED (
         SELECT id, status FROM oms.tasks
         WHERE request_id = $1 AND status = ANY($2::text[])
           AND ($4::text IS NULL AND NOT starts_with(step_id, $5) OR step_id = $4)
         FOR UPDATE
       )
       UPDATE oms.tasks AS t SET
         status = 'cancelled', lease_token = NULL, lease_expires_at = NULL, lease_duration_seconds = NULL, updated_at = $3
       FROM open WHERE t.id = open.id
       RETURNING t.id, t.step_id, t.pool, CASE WHEN open.status = 'leased' THEN t.lease_id END AS revoked_lease_id`,
      [requestId, statesAccepting('cancel'), this.clock.now(), stepId, EscalationSteps.prefix],
    );
    for (const row of rows) {
      emit('oms.task.cancelled', requestId, { taskId: row.id, stepId: row.step_id, pool: row.pool, reason, leaseId: row.revoked_lease_id }, actor);
    }
  }


  /** Moves a queued or leased task to another pool; a lease is revoked and its attempt given back. */
  async reroute(command: RerouteTaskCommand, actor: Actor): Promise<TaskView> {
    if (!isUuid(command.taskId)) throw DomainError.notFound('Task', command.taskId);
    return this.outbox.transaction(async (tx, emit) => {
      const [current] = await queryRows<{ id: string; request_id: string; step_id: string; pool: string; status: TaskViewRow['status'] }>(
        tx,
        `SELECT id, request_id, step_id, pool, status FROM oms.tasks WHERE id = $1 FOR UPDATE`,
        [command.taskId],
      );
      if (!current) throw DomainError.notFound('Task', command.taskId);
      transitionTask(current.status, 'reroute');
      if (current.pool === command.pool) throw new DomainError('CONFLICT', `Task '${current.id}' is already in pool '${command.pool}'`);
      await this.pools.resolveForQueueing(tx, command.pool, emit, actor.id);
      const now = this.clock.now();
      const [row] = await queryRows<TaskViewRow>(
        tx,
        `UPDATE oms.tasks AS t SET
           pool = $2,
           status = 'queued',
           attempt = CASE WHEN t.status = 'leased' THEN t.attempt - 1 ELSE t.attempt END,
           worker = NULL, lease_token = NULL, lease_expires_at = NULL, lease_duration_seconds = NULL,
           available_at = GREATEST(t.available_at, $3::timestamptz),
           queued_at = $3, updated_at = $3
         WHERE t.id = $1
         RETURNING ${TASK_VIEW_COLUMNS}`,
        [current.id, command.pool, now],
      );
      emit(
        'oms.task.rerouted',
        current.request_id,
        { taskId: current.id, stepId: current.step_id, fromPool: current.pool, toPool: command.pool, reason: command.reason ?? '' },
        actor.id,
      );
      const delayMs = row.available_at.getTime() - now.getTime();
      this.afterCommit.run(tx, () => this.signals.announceAt(command.pool, [row.tags], delayMs));
      return toTaskView(row);
    });
  }

  /**
   * Bulk reroute: up to `limit` queued tasks of one pool matching the filters move to another,
   * in one transaction, in the order the old pool would have served them. Rows being leased at
   * this instant are skipped (SKIP LOCKED): they are no longer queued, and waiting for them would
   * stall a large move behind single leases.
   */
  async rerouteQueue(command: RerouteQueueCommand, actor: Actor): Promise<RerouteQueueResult> {
    if (command.pool === command.toPool) throw new DomainError('CONFLICT', `The tasks are already in pool '${command.toPool}'`);
    const limit = command.limit ?? REROUTE_QUEUE_DEFAULT_LIMIT;
    return this.outbox.transaction(async (tx, emit) => {
      const [from] = await queryRows<{ name: string }>(tx, `SELECT name FROM oms.pools WHERE name = $1`, [command.pool]);
      if (!from) throw DomainError.notFound('Pool', command.pool);
      await this.pools.resolveForQueueing(tx, command.toPool, emit, actor.id);
      const now = this.clock.now();
      // Walks tasks_lease_idx in queue order; the filters are checked on the way.
      const matching = `pool = $1 AND status = 'queued'
          AND ($2::text[] IS NULL OR tags @> $2::text[])
          AND ($3::text IS NULL OR step_id = $3)
          AND ($4::int IS NULL OR priority >= $4)
          AND ($5::int IS NULL OR priority <= $5)`;
      const matchingParams = [command.pool, command.tags ?? null, command.stepId ?? null, command.minPriority ?? null, command.maxPriority ?? null];
      const moved = await queryRows<{ id: string; request_id: string; step_id: string; tags: string[]; priority: number; pick_by: Date; available_at: Date }>(
        tx,
        `WITH picked AS MATERIALIZED (
           SELECT id, priority, pick_by, available_at FROM oms.tasks
           WHERE ${matching}
           ORDER BY ${QUEUE_ORDER_SQL}
           LIMIT $7
           FOR UPDATE SKIP LOCKED
         )
         UPDATE oms.tasks AS t SET pool = $6, available_at = GREATEST(t.available_at, $8::timestamptz), queued_at = $8, updated_at = $8
         FROM picked WHERE t.id = picked.id
         RETURNING t.id, t.request_id, t.step_id, t.tags, picked.priority, picked.pick_by, picked.available_at`,
        [...matchingParams, command.toPool, limit, now],
      );
      // UPDATE … RETURNING has no order; report and announce them in the old pool's order.
      const ordered = moved.sort(compareQueueOrder);
      const reason = command.reason ?? '';
      for (const row of ordered) {
        emit('oms.task.rerouted', row.request_id, { taskId: row.id, stepId: row.step_id, fromPool: command.pool, toPool: command.toPool, reason }, actor.id);
      }
      const [left] = await queryRows<{ more: boolean }>(
        tx,
        `SELECT EXISTS (SELECT 1 FROM oms.tasks WHERE ${matching}) AS more`,
        matchingParams,
      );
      if (ordered.length > 0) this.afterCommit.run(tx, () => this.signals.announce(command.toPool, ordered.map((row) => row.tags)));
      return { fromPool: command.pool, toPool: command.toPool, moved: ordered.length, taskIds: ordered.map((row) => row.id), more: left?.more ?? false };
    });
  }

  /**
   * One task. `holder` (a worker token's caller, see requiredLeaseHolder) may read only a task it
   * holds the lease of: the worker needs its input, not the rest of the queue's data.
   */
  async get(id: string, holder: string | null = null): Promise<TaskView> {
    if (!isUuid(id)) throw DomainError.notFound('Task', id);
    const [row] = await queryRows<TaskViewRow>(this.dataSource.manager, `SELECT ${TASK_VIEW_COLUMNS} FROM oms.tasks WHERE id = $1`, [id]);
    if (!row) throw DomainError.notFound('Task', id);
    if (holder !== null && !(row.status === 'leased' && row.worker === holder)) {
      throw new DomainError('FORBIDDEN', `Task '${id}' is not leased to you; a worker may read only the tasks it holds`);
    }
    return toTaskView(row);
  }

  /**
   * Newest first, keyset-paginated on (created_at, id) so pages stay stable while tasks are
   * added. Filters pick their index: pool → tasks_pool_created_idx, worker →
   * tasks_worker_created_idx, requestId → tasks_request_step_key, none → tasks_created_idx.
   * Tasks carry their payloads and outputs: a page holds as many as fit in one NATS answer.
   */
  async list(query: ListTasksQuery, maxPayload: number): Promise<Page<TaskView>> {
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const where: string[] = [];
    const params: unknown[] = [];
    const filter = (column: string, value: unknown) => {
      params.push(value);
      where.push(`${column} = $${params.length}`);
    };
    if (query.pool !== undefined) filter('pool', query.pool);
    if (query.status !== undefined) filter('status', query.status);
    if (query.requestId !== undefined) filter('request_id', query.requestId);
    if (query.worker !== undefined) filter('worker', query.worker);
    if (query.cursor !== undefined) {
      const cursor = decodeTimeIdCursor(query.cursor);
      params.push(cursor.at, cursor.id);
      where.push(`(created_at, id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
    }
    params.push(limit + 1);
    const rows = await queryRows<TaskViewRow>(
      this.dataSource.manager,
      `SELECT ${TASK_VIEW_COLUMNS} FROM oms.tasks
       ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY created_at DESC, id DESC
       LIMIT $${params.length}`,
      params,
    );
    return pageThatFits(rows, limit, toTaskView, (last) => encodeTimeIdCursor({ at: last.created_at, id: last.id }), maxPayload);
  }

  /**
   * The queue of a pool as a lease would serve it (priority, then deadline pressure, then longest
   * available), without leasing. `depth` counts every queued task, including those waiting out a retry backoff.
   * Both reads use tasks_lease_idx.
   */
  async peek(pool: string, limit = DEFAULT_PAGE_SIZE): Promise<QueuePeekResult> {
    const db = this.dataSource.manager;
    const [[depth], rows] = await Promise.all([
      queryRows<{ depth: number }>(db, `SELECT count(*)::int AS depth FROM oms.tasks WHERE pool = $1 AND status = 'queued'`, [pool]),
      queryRows<TaskViewRow>(
        db,
        `SELECT ${TASK_VIEW_COLUMNS} FROM oms.tasks WHERE pool = $1 AND status = 'queued'
         ORDER BY ${QUEUE_ORDER_SQL} LIMIT $2`,
        [pool, limit],
      ),
    ]);
    return { pool, depth: depth?.depth ?? 0, tasks: rows.map(toQueuedTaskView) };
  }
}

/** A task to queue, with who asked and the trace context its `oms.task.queued` continues (absent: the current one). */
interface QueueItem {
  step: StepTask;
  actor: string;
  traceHeaders?: string | null;
}

function handOffTo(terms: WaiterLeaseTerms): HandOffLease {
  const { leaseTokens, leaseIds } = newLeaseCredentials(1);
  return { ...terms, leaseToken: leaseTokens[0]!, leaseId: leaseIds[0]! };
}
