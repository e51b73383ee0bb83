import { Inject, Injectable } from '@nestjs/common';
import { EscalationSteps, ItemSteps, systemActor, type AnyHmsEvent, type EventDataMap, type HmsEvent, type PlanDefinition, isUuid } from '@hms/contracts';
import { CLOCK, EventOutbox, LOGGER, NatsBus, type Clock, type Emit } from '@hms/platform';
import type { Logger } from 'pino';
import type { EntityManager } from 'typeorm';
import { PlansService } from '../plans/plans.service';
import type { RequestStepEntity } from './request-step.entity';
import type { RequestEntity } from './request.entity';
import { isTerminalRequest } from './request.state';
import { fanOutOutcome, insertFanOut, lockNextChunk, markEmitted, recordItemEnds, type ItemEnd } from './fan-out.repository';
import { appendEscalations, loadSteps, lockRequest, lockRequests, recordStepTasks, stepKey } from './requests.repository';
import { canTransitionStep, stepStatusesAllowing, type StepEvent } from './step.state';
import { Workflow, type WorkflowEffect } from './workflow';
import { BatchedWorkflowWrites, immediateWrites, type WorkflowWrites } from './workflow-writes';

/** The OMS events that move a step. */
type TaskEvent = Extract<AnyHmsEvent, { type: 'oms.task.queued' | 'oms.task.failed' | 'oms.task.requeued' | 'oms.task.rerouted' | 'oms.task.completed' | 'oms.task.dead' }>;

const STEP_EVENT_OF: Record<TaskEvent['type'], StepEvent> = {
  'oms.task.queued': 'taskQueued',
  'oms.task.failed': 'attemptFailed',
  'oms.task.requeued': 'attemptFailed',
  'oms.task.rerouted': 'taskRerouted',
  'oms.task.completed': 'complete',
  'oms.task.dead': 'fail',
};

function isTaskEvent(event: AnyHmsEvent): event is TaskEvent {
  return event.type in STEP_EVENT_OF;
}

type EndEffect = Extract<WorkflowEffect, { kind: 'request-rejected' | 'request-failed' | 'request-cancelled' }>;

const ENDED_STATUS: Record<EndEffect['kind'], RequestEntity['status']> = {
  'request-rejected': 'rejected',
  'request-failed': 'failed',
  'request-cancelled': 'cancelled',
};

/** Why a request ended otherwise than completed, as stored in its `end_details`. */
function endDetailsOf(effect: EndEffect): NonNullable<RequestEntity['endDetails']> {
  switch (effect.kind) {
    case 'request-rejected':
      return { reason: `step '${effect.stepId}' rejected the request`, stepId: effect.stepId };
    case 'request-failed':
      return { reason: effect.reason, stepId: effect.stepId };
    case 'request-cancelled':
      return { reason: effect.reason, stepId: null };
  }
}

/** Decisions of the engine are made by ACT itself, whoever caused the event that led to them. */
const ENGINE_ACTOR = systemActor('act').id;

/**
 * Runs the workflow of requests: reacts to OMS task events (ACT's event consumer, after the ledger) and
 * stores the engine's decisions with their events. Request creation and cancel use it too, so
 * every change of a request goes through the same code.
 */
@Injectable()
export class WorkflowService {
  constructor(
    private readonly plans: PlansService,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly bus: NatsBus,
    private readonly outbox: EventOutbox,
  ) {}

  /** The engine over a request and its steps as stored. */
  async workflowOf(tx: EntityManager, request: RequestEntity, steps: RequestStepEntity[]): Promise<Workflow> {
    const plan = await this.plans.definitionOf(tx, request.plan, request.planVersion);
    const { id, status, reference, priority, payload } = request;
    return new Workflow(
      plan,
      { id, plan: request.plan, status, reference, priority, payload },
      new Map(steps.map((step) => [step.stepId, { status: step.status, output: step.output, failedItems: step.failedItems }])),
      this.bus.maxPayload,
    );
  }

  /**
   * Starts a request that is not stored yet: its steps and the request take the statuses the
   * engine's first decisions give them (in memory, so they are inserted as they end up, not
   * inserted and then updated), and the returned function emits those decisions' events.
   */
  begin(plan: PlanDefinition, request: RequestEntity, steps: RequestStepEntity[], actor: string): (emit: Emit) => void {
    const { id, status, reference, priority, payload } = request;
    const workflow = new Workflow(
      plan,
      { id, plan: request.plan, status, reference, priority, payload },
      new Map(steps.map((step) => [step.stepId, { status: step.status, output: step.output }])),
      this.bus.maxPayload,
    );
    const effects = workflow.start();
    const statuses = workflow.statuses();
    for (const step of steps) step.status = statuses.get(step.stepId) ?? step.status;
    request.status = workflow.requestStatus;
    if (isTerminalRequest(request.status)) request.completedAt = request.updatedAt;
    for (const effect of effects) {
      if (effect.kind === 'request-completed') request.result = effect.result;
      else if (effect.kind === 'request-rejected' || effect.kind === 'request-failed' || effect.kind === 'request-cancelled') request.endDetails = endDetailsOf(effect);
    }
    return (emit) => {
      for (const effect of effects) this.emitEffect(emit, request, effect, actor);
    };
  }

  /**
   * Stores the engine's decisions and emits their events, in the caller's transaction: written
   * at once, or held by `writes` for a batch of events (BatchedWorkflowWrites).
   */
  async apply(tx: EntityManager, emit: Emit, request: RequestEntity, effects: WorkflowEffect[], actor: string, writes: WorkflowWrites = immediateWrites): Promise<void> {
    if (effects.length === 0) return;
    const now = this.clock.now();
    const requestId = request.id;
    let ended = false;
    const endRequest = async (status: RequestEntity['status'], outcome: Pick<RequestEntity, 'result' | 'endDetails'>) => {
      const changes = { status, completedAt: now, updatedAt: now, ...outcome };
      Object.assign(request, changes);
      await writes.request(tx, request, changes);
      ended = true;
    };
    for (const effect of effects) {
      switch (effect.kind) {
        case 'step-ready':
        case 'step-fanned-out':
          await writes.step(tx, requestId, effect.stepId, { status: 'ready', updatedAt: now });
          break;
        case 'step-skipped':
        case 'step-waived':
          await writes.step(tx, requestId, effect.stepId, { status: 'skipped', updatedAt: now });
          break;
        case 'step-done':
          await writes.step(tx, requestId, effect.stepId, { status: 'done', output: effect.output, failedItems: effect.failedItems, updatedAt: now });
          break;
        case 'step-failed':
          await writes.step(tx, requestId, effect.stepId, { status: 'failed', updatedAt: now });
          break;
        case 'step-cancelled':
          await writes.step(tx, requestId, effect.stepId, { status: 'cancelled', updatedAt: now });
          break;
        case 'request-completed':
          await endRequest('completed', { result: effect.result, endDetails: null });
          break;
        case 'request-rejected':
        case 'request-failed':
        case 'request-cancelled':
          await endRequest(ENDED_STATUS[effect.kind], { result: null, endDetails: endDetailsOf(effect) });
          break;
      }
      this.emitEffect(emit, request, effect, actor);
    }
    if (!ended) {
      // A step moved: the request's updated_at says so, so lists and pollers see the change.
      request.updatedAt = now;
      await writes.request(tx, request, { updatedAt: now });
    }
  }

  /** The event of one decision, if it has one. */
  private emitEffect(emit: Emit, request: RequestEntity, effect: WorkflowEffect, actor: string): void {
    const { id: requestId, plan } = request;
    switch (effect.kind) {
      case 'step-ready':
        emit('act.step.ready', requestId, effect.data, actor);
        return;
      case 'step-fanned-out':
        emit('act.step.fanned-out', requestId, { stepId: effect.stepId, items: effect.items }, actor);
        return;
      case 'step-skipped':
      case 'step-waived':
        emit('act.step.skipped', requestId, { stepId: effect.stepId, reason: effect.reason }, actor);
        return;
      case 'request-completed':
        emit('act.request.completed', requestId, { plan }, actor);
        return;
      case 'request-rejected':
        emit('act.request.rejected', requestId, { plan, stepId: effect.stepId }, actor);
        return;
      case 'request-failed':
        emit('act.request.failed', requestId, { plan, stepId: effect.stepId, reason: effect.reason }, actor);
        return;
      case 'request-cancelled':
        emit('act.request.cancelled', requestId, { plan, reason: effect.reason }, actor);
        return;
      default:
        return;
    }
  }

  /**
   * A batch of events, in stream order, inside the consumer's transaction (already de-duplicated
   * by the ledger); only OMS's task events move a step. The requests they name are locked first,
   * in one statement. Events of unknown or finished requests, and events a step can no longer
   * take (a late duplicate from OMS), are acknowledged and ignored: retrying them could never
   * succeed.
   */
  async onEvents(events: AnyHmsEvent[], tx: EntityManager, emit: Emit): Promise<void> {
    // An escalation task is its alert's, not a step's: its events are in the ledger, nothing more.
    // A fan-out item's task matters to its step only when it ends: its queueing, retries and
    // reroutes are in the ledger and OMS, and take no request lock here.
    const taskEvents = events.filter(
      (event): event is TaskEvent =>
        isTaskEvent(event) &&
        isUuid(event.requestId) &&
        !EscalationSteps.alertIdOf(event.data.stepId) &&
        (event.type === 'oms.task.completed' || event.type === 'oms.task.dead' || !ItemSteps.parse(event.data.stepId)),
    );
    // A request's own breach is flagged when ACT marks it; a task's alert is flagged here. A
    // fan-out item's alert is not: 100,000 items could raise as many, past what a request row
    // and its view can hold (the alert is OPS's and in the ledger all the same).
    const taskAlerts = events.filter(
      (event): event is HmsEvent<'ops.alert.raised'> =>
        event.type === 'ops.alert.raised' && event.data.kind !== 'request-sla-breached' && isUuid(event.requestId) && !(event.data.stepId && ItemSteps.parse(event.data.stepId)),
    );
    const fanOuts = events.filter((event): event is HmsEvent<'act.step.fanned-out'> => event.type === 'act.step.fanned-out' && isUuid(event.requestId));
    if (taskEvents.length === 0 && taskAlerts.length === 0 && fanOuts.length === 0) return;
    const requests = await lockRequests(tx, [...new Set([...taskEvents, ...taskAlerts, ...fanOuts].map((event) => event.requestId!.toLowerCase()))]);
    await appendEscalations(
      tx,
      taskAlerts.filter((event) => requests.has(event.requestId!.toLowerCase())).map((event) => ({ requestId: event.requestId!, at: event.at, reason: event.data.kind, alertId: event.data.alertId })),
      this.clock.now(),
    );
    const itemEvents: TaskEvent[] = [];
    // `oms.task.queued` decides nothing: a run of them (a batch of new tasks) is recorded on the
    // steps in one statement, at its place in the batch's order.
    const queued: Array<{ event: HmsEvent<'oms.task.queued'>; request: RequestEntity }> = [];
    // The other events' reads and writes of steps and requests, set-based for the batch; written
    // before anything else reads or writes steps (a run of queued, the fan-outs, the items).
    const writes = new BatchedWorkflowWrites([
      ...new Set(taskEvents.filter((event) => event.type !== 'oms.task.queued' && !ItemSteps.parse(event.data.stepId)).map((event) => event.requestId!.toLowerCase())),
    ]);
    const recordQueued = async () => {
      if (queued.length === 0) return;
      await writes.flush(tx);
      await this.recordQueued(queued.splice(0), tx);
    };
    for (const event of taskEvents) {
      if (ItemSteps.parse(event.data.stepId)) {
        itemEvents.push(event);
        continue;
      }
      const request = requests.get(event.requestId!.toLowerCase());
      // A request ended by an earlier event of this batch is terminal here too (apply() updates it in place).
      if (!request || isTerminalRequest(request.status)) continue;
      if (event.type === 'oms.task.queued') {
        queued.push({ event, request });
        continue;
      }
      await recordQueued();
      await this.onTaskEvent(event, request, tx, emit, writes);
    }
    await recordQueued();
    await writes.flush(tx);
    for (const event of fanOuts) {
      const request = requests.get(event.requestId!.toLowerCase());
      if (request && !isTerminalRequest(request.status)) await this.storeFanOut(event, request, tx, emit);
    }
    await this.onItemEvents(itemEvents, requests, tx, emit);
  }

  /**
   * A fan-out started (ACT's own `act.step.fanned-out`, back from the stream): its list is
   * evaluated again (the same payload and outputs give the same list) and stored for the
   * emitter (FanOutJob), which queues its items in chunks once this commits.
   */
  private async storeFanOut(event: HmsEvent<'act.step.fanned-out'>, request: RequestEntity, tx: EntityManager, emit: Emit): Promise<void> {
    const steps = await loadSteps(tx, request.id);
    const step = steps.find((s) => s.stepId === event.data.stepId);
    if (!step || step.status !== 'ready') return;
    const workflow = await this.workflowOf(tx, request, steps);
    const items = workflow.fanOutItems(step.stepId);
    if (!items.ok) {
      await this.apply(tx, emit, request, workflow.failStep(step.stepId, `the forEach of step '${step.stepId}' ${items.error}`), ENGINE_ACTOR);
      return;
    }
    await insertFanOut(tx, request.id, step.stepId, items.value);
  }

  /**
   * The task events of fan-out items. Only an item's end matters to its step (its queueing,
   * retries and reroutes are in the ledger and in OMS): the batch's ends are recorded in one
   * statement, which also moves each fan-out's counters. A fan-out that now has a dead item
   * under `onItemFailure: fail` fails its step and request (OMS then cancels the other items'
   * tasks); one whose items have all ended completes its step with their outputs in order.
   */
  private async onItemEvents(events: TaskEvent[], requests: Map<string, RequestEntity>, tx: EntityManager, emit: Emit): Promise<void> {
    const ends: ItemEnd[] = [];
    const firstDead = new Map<string, { index: number; error: { message: string } | null; attempts: number }>();
    for (const event of events) {
      const request = requests.get(event.requestId!.toLowerCase());
      if (!request || isTerminalRequest(request.status)) continue;
      const item = ItemSteps.parse(event.data.stepId)!;
      const key = `${request.id}/${item.stepId}`;
      if (event.type === 'oms.task.completed') ends.push({ requestId: request.id, stepId: item.stepId, index: item.index, status: 'completed', output: event.data.output ?? {} });
      else if (event.type === 'oms.task.dead') {
        ends.push({ requestId: request.id, stepId: item.stepId, index: item.index, status: 'dead', output: null });
        if (!firstDead.has(key)) firstDead.set(key, { index: item.index, error: event.data.error, attempts: event.data.attempts });
      }
    }
    const counts = await recordItemEnds(tx, ends);
    for (const count of counts.sort((a, b) => a.requestId.localeCompare(b.requestId) || a.stepId.localeCompare(b.stepId))) {
      const request = requests.get(count.requestId.toLowerCase());
      if (!request || isTerminalRequest(request.status)) continue;
      const dead = firstDead.get(`${request.id}/${count.stepId}`);
      const ended = count.completed + count.failed === count.total;
      if (!ended && !dead) continue;
      const workflow = await this.workflowOf(tx, request, await loadSteps(tx, request.id));
      if (dead && workflow.itemFailurePolicy(count.stepId) === 'fail') {
        await this.apply(tx, emit, request, workflow.itemDead(count.stepId, dead.index, dead.error, dead.attempts), ENGINE_ACTOR);
      } else if (ended) {
        await this.apply(tx, emit, request, workflow.completeFanOut(count.stepId, await fanOutOutcome(tx, request.id, count.stepId, count.total)), ENGINE_ACTOR);
      }
    }
  }

  /**
   * Emits the next chunk of one fan-out's items as `act.step.ready` events (one per item, its
   * task's step id `ItemSteps.stepIdOf`), in one transaction under the request's lock, so a
   * cancel or a failure is either before it (nothing more is emitted) or after it (OMS then
   * cancels the tasks it queued). Returns the items emitted: 0 when there was nothing to do.
   * An item whose input cannot be made fails the step and the request, and nothing of the
   * chunk is emitted.
   */
  async emitFanOutChunk(requestId: string, stepId: string, chunkSize: number): Promise<number> {
    return this.outbox.transaction(async (tx, emit) => {
      const request = await lockRequest(tx, requestId);
      const chunk = await lockNextChunk(tx, requestId, stepId, chunkSize);
      if (!chunk) return 0;
      const steps = request ? await loadSteps(tx, requestId) : [];
      if (!request || isTerminalRequest(request.status) || steps.find((s) => s.stepId === stepId)?.status !== 'ready') {
        // The step ended (its request failed or was cancelled): its remaining items are not wanted.
        await markEmitted(tx, requestId, stepId, chunk.from, false);
        return 0;
      }
      const workflow = await this.workflowOf(tx, request, steps);
      const ready: Array<EventDataMap['act.step.ready']> = [];
      for (const [offset, item] of chunk.items.entries()) {
        const data = workflow.itemReady(stepId, item, chunk.from + offset);
        if (!data.ok) {
          await markEmitted(tx, requestId, stepId, chunk.from, false);
          await this.apply(tx, emit, request, workflow.failStep(stepId, data.error), ENGINE_ACTOR);
          return 0;
        }
        ready.push(data.value);
      }
      for (const data of ready) emit('act.step.ready', requestId, data, ENGINE_ACTOR);
      const emitted = chunk.from + ready.length;
      await markEmitted(tx, requestId, stepId, emitted, emitted < chunk.total);
      return ready.length;
    });
  }

  /**
   * Each step records its task if its status can take the event (the request is locked, so it
   * cannot change meanwhile); one statement for the run. Of two events for one step, the later
   * task is recorded, as one statement per event would leave it.
   */
  private async recordQueued(run: Array<{ event: HmsEvent<'oms.task.queued'>; request: RequestEntity }>, tx: EntityManager): Promise<void> {
    if (run.length === 0) return;
    const lastOfStep = new Map(run.map((item) => [stepKey(item.request.id, item.event.data.stepId), item]));
    const recorded = await recordStepTasks(
      tx,
      [...lastOfStep.values()].map(({ event, request }) => ({ requestId: request.id, stepId: event.data.stepId, taskId: event.data.taskId })),
      stepStatusesAllowing('taskQueued'),
      this.clock.now(),
    );
    for (const [key, { event, request }] of lastOfStep) if (!recorded.has(key)) this.ignore(event, request);
  }

  private ignore(event: TaskEvent, request: RequestEntity, stepStatus?: string): void {
    this.logger.warn({ eventId: event.id, type: event.type, requestId: request.id, stepId: event.data.stepId, stepStatus }, 'ignoring a task event the step cannot take');
  }

  /** A task event other than `oms.task.queued` (see recordQueued). */
  private async onTaskEvent(event: Exclude<TaskEvent, HmsEvent<'oms.task.queued'>>, request: RequestEntity, tx: EntityManager, emit: Emit, writes: BatchedWorkflowWrites): Promise<void> {
    const steps = await writes.stepsOf(tx, request.id);
    const step = steps.find((s) => s.stepId === event.data.stepId);
    if (!step || !canTransitionStep(step.status, STEP_EVENT_OF[event.type])) {
      this.ignore(event, request, step?.status);
      return;
    }
    const now = this.clock.now();
    const taskId = event.data.taskId;
    switch (event.type) {
      case 'oms.task.failed':
        await writes.step(tx, request.id, step.stepId, { taskId, attempts: Math.max(step.attempts, event.data.attempt), updatedAt: now });
        return;
      case 'oms.task.requeued':
        // A released task gave its attempt back; an expired lease or a vanished worker used one up.
        if (event.data.reason !== 'released') {
          await writes.step(tx, request.id, step.stepId, { taskId, attempts: Math.max(step.attempts, event.data.attempt), updatedAt: now });
        }
        return;
      case 'oms.task.rerouted':
        await writes.step(tx, request.id, step.stepId, { taskId, pool: event.data.toPool, updatedAt: now });
        return;
      case 'oms.task.completed': {
        await writes.step(tx, request.id, step.stepId, { taskId, attempts: Math.max(step.attempts, event.data.attempt), updatedAt: now });
        const workflow = await this.workflowOf(tx, request, steps);
        await this.apply(tx, emit, request, workflow.completeStep(step.stepId, event.data.output ?? {}), ENGINE_ACTOR, writes);
        return;
      }
      case 'oms.task.dead': {
        await writes.step(tx, request.id, step.stepId, { taskId, attempts: Math.max(step.attempts, event.data.attempts), updatedAt: now });
        const workflow = await this.workflowOf(tx, request, steps);
        await this.apply(tx, emit, request, workflow.stepDead(step.stepId, event.data.error, event.data.attempts), ENGINE_ACTOR, writes);
        return;
      }
    }
  }
}
