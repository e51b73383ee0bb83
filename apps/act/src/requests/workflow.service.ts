import { Inject, Injectable } from '@nestjs/common';
import { EscalationSteps, systemActor, type AnyHmsEvent, type HmsEvent, isUuid } from '@hms/contracts';
import { CLOCK, LOGGER, NatsBus, type Clock, type Emit } from '@hms/platform';
import type { Logger } from 'pino';
import type { EntityManager } from 'typeorm';
import { PlansService } from '../plans/plans.service';
import type { RequestStepEntity } from './request-step.entity';
import type { RequestEntity } from './request.entity';
import { isTerminalRequest } from './request.state';
import { appendEscalations, loadSteps, lockRequests, updateRequest, updateStep } from './requests.repository';
import { canTransitionStep, type StepEvent } from './step.state';
import { Workflow, type WorkflowEffect } from './workflow';

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
  ) {}

  /** The engine over a request and its steps as stored. */
  async workflowOf(tx: EntityManager, request: RequestEntity, steps: RequestStepEntity[]): Promise<Workflow> {
    const plan = await this.plans.definitionOf(tx, request.plan, request.planVersion);
    const { id, status, reference, priority, payload } = request;
    return new Workflow(
      plan,
      { id, plan: request.plan, status, reference, priority, payload },
      new Map(steps.map((step) => [step.stepId, { status: step.status, output: step.output }])),
      this.bus.maxPayload,
    );
  }

  /** Stores the engine's decisions and emits their events, in the caller's transaction. */
  async apply(tx: EntityManager, emit: Emit, request: RequestEntity, effects: WorkflowEffect[], actor: string): Promise<void> {
    if (effects.length === 0) return;
    const now = this.clock.now();
    const requestId = request.id;
    const plan = request.plan;
    let ended = false;
    const endRequest = async (status: RequestEntity['status'], outcome: Pick<RequestEntity, 'result' | 'endDetails'>) => {
      await updateRequest(tx, requestId, { status, completedAt: now, updatedAt: now, ...outcome });
      Object.assign(request, { status, completedAt: now, updatedAt: now, ...outcome });
      ended = true;
    };
    for (const effect of effects) {
      switch (effect.kind) {
        case 'step-ready':
          await updateStep(tx, requestId, effect.stepId, { status: 'ready', updatedAt: now });
          emit('act.step.ready', requestId, effect.data, actor);
          break;
        case 'step-skipped':
        case 'step-waived':
          await updateStep(tx, requestId, effect.stepId, { status: 'skipped', updatedAt: now });
          emit('act.step.skipped', requestId, { stepId: effect.stepId, reason: effect.reason }, actor);
          break;
        case 'step-done':
          await updateStep(tx, requestId, effect.stepId, { status: 'done', output: effect.output, updatedAt: now });
          break;
        case 'step-failed':
          await updateStep(tx, requestId, effect.stepId, { status: 'failed', updatedAt: now });
          break;
        case 'step-cancelled':
          await updateStep(tx, requestId, effect.stepId, { status: 'cancelled', updatedAt: now });
          break;
        case 'request-completed':
          await endRequest('completed', { result: effect.result, endDetails: null });
          emit('act.request.completed', requestId, { plan }, actor);
          break;
        case 'request-rejected':
          await endRequest('rejected', { result: null, endDetails: { reason: `step '${effect.stepId}' rejected the request`, stepId: effect.stepId } });
          emit('act.request.rejected', requestId, { plan, stepId: effect.stepId }, actor);
          break;
        case 'request-failed':
          await endRequest('failed', { result: null, endDetails: { reason: effect.reason, stepId: effect.stepId } });
          emit('act.request.failed', requestId, { plan, stepId: effect.stepId, reason: effect.reason }, actor);
          break;
        case 'request-cancelled':
          await endRequest('cancelled', { result: null, endDetails: { reason: effect.reason, stepId: null } });
          emit('act.request.cancelled', requestId, { plan, reason: effect.reason }, actor);
          break;
      }
    }
    if (!ended) {
      // A step moved: the request's updated_at says so, so lists and pollers see the change.
      await updateRequest(tx, requestId, { updatedAt: now });
      request.updatedAt = now;
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
    const taskEvents = events.filter((event): event is TaskEvent => isTaskEvent(event) && isUuid(event.requestId) && !EscalationSteps.alertIdOf(event.data.stepId));
    // A request's own breach is flagged when ACT marks it; a task's alert is flagged here.
    const taskAlerts = events.filter(
      (event): event is HmsEvent<'ops.alert.raised'> => event.type === 'ops.alert.raised' && event.data.kind !== 'request-sla-breached' && isUuid(event.requestId),
    );
    if (taskEvents.length === 0 && taskAlerts.length === 0) return;
    const requests = await lockRequests(tx, [...new Set([...taskEvents, ...taskAlerts].map((event) => event.requestId!.toLowerCase()))]);
    await appendEscalations(
      tx,
      taskAlerts.filter((event) => requests.has(event.requestId!.toLowerCase())).map((event) => ({ requestId: event.requestId!, at: event.at, reason: event.data.kind, alertId: event.data.alertId })),
      this.clock.now(),
    );
    for (const event of taskEvents) {
      const request = requests.get(event.requestId!.toLowerCase());
      // A request ended by an earlier event of this batch is terminal here too (apply() updates it in place).
      if (request && !isTerminalRequest(request.status)) await this.onTaskEvent(event, request, tx, emit);
    }
  }

  private async onTaskEvent(event: TaskEvent, request: RequestEntity, tx: EntityManager, emit: Emit): Promise<void> {
    const steps = await loadSteps(tx, request.id);
    const step = steps.find((s) => s.stepId === event.data.stepId);
    if (!step || !canTransitionStep(step.status, STEP_EVENT_OF[event.type])) {
      this.logger.warn({ eventId: event.id, type: event.type, requestId: request.id, stepId: event.data.stepId, stepStatus: step?.status }, 'ignoring a task event the step cannot take');
      return;
    }
    const now = this.clock.now();
    const taskId = event.data.taskId;
    switch (event.type) {
      case 'oms.task.queued':
        await updateStep(tx, request.id, step.stepId, { taskId, updatedAt: now });
        return;
      case 'oms.task.failed':
        await updateStep(tx, request.id, step.stepId, { taskId, attempts: Math.max(step.attempts, event.data.attempt), updatedAt: now });
        return;
      case 'oms.task.requeued':
        // A released task gave its attempt back; an expired lease or a vanished worker used one up.
        if (event.data.reason !== 'released') {
          await updateStep(tx, request.id, step.stepId, { taskId, attempts: Math.max(step.attempts, event.data.attempt), updatedAt: now });
        }
        return;
      case 'oms.task.rerouted':
        await updateStep(tx, request.id, step.stepId, { taskId, pool: event.data.toPool, updatedAt: now });
        return;
      case 'oms.task.completed': {
        await updateStep(tx, request.id, step.stepId, { taskId, attempts: Math.max(step.attempts, event.data.attempt), updatedAt: now });
        const workflow = await this.workflowOf(tx, request, steps);
        await this.apply(tx, emit, request, workflow.completeStep(step.stepId, event.data.output ?? {}), ENGINE_ACTOR);
        return;
      }
      case 'oms.task.dead': {
        await updateStep(tx, request.id, step.stepId, { taskId, attempts: Math.max(step.attempts, event.data.attempts), updatedAt: now });
        const workflow = await this.workflowOf(tx, request, steps);
        await this.apply(tx, emit, request, workflow.stepDead(step.stepId, event.data.error, event.data.attempts), ENGINE_ACTOR);
        return;
      }
    }
  }
}
