import type { EventDataMap, PlanDefinition, PlanStep, RequestStatus, StepStatus } from '@hms/contracts';
import { CelBudget } from '../plans/cel-program';
import { evaluateWhen, type WhenContext } from '../plans/when-expression';
import { allStepsSettled, readySteps } from './dag';
import { transitionRequest } from './request.state';
import { isOpenStep, transitionStep, type StepEvent } from './step.state';

/** What the workflow knows of its request. */
export interface WorkflowRequest {
  id: string;
  plan: string;
  status: RequestStatus;
  reference: string | null;
  priority: number;
  payload: Record<string, unknown>;
}

/** What the workflow knows of one step. */
export interface WorkflowStep {
  status: StepStatus;
  output: Record<string, unknown> | null;
}

/** A decision of the engine; the service stores it and emits its event in the same transaction. */
export type WorkflowEffect =
  | { kind: 'step-ready'; stepId: string; data: EventDataMap['act.step.ready'] }
  | { kind: 'step-skipped'; stepId: string; reason: string }
  | { kind: 'step-done'; stepId: string; output: Record<string, unknown> }
  | { kind: 'step-waived'; stepId: string; reason: string }
  | { kind: 'step-failed'; stepId: string; reason: string }
  | { kind: 'step-cancelled'; stepId: string }
  | { kind: 'request-completed' }
  | { kind: 'request-cancelled'; reason: string }
  | { kind: 'request-rejected'; stepId: string }
  | { kind: 'request-failed'; stepId: string; reason: string };

/** The `act.step.ready` data of a step: its own settings over the plan's defaults. */
export function stepReadyData(plan: PlanDefinition, step: PlanStep, request: Pick<WorkflowRequest, 'priority' | 'payload'>): EventDataMap['act.step.ready'] {
  const defaults = plan.defaults ?? {};
  return {
    stepId: step.id,
    pool: step.pool,
    title: step.title ?? step.id,
    tags: step.tags ?? defaults.tags ?? [],
    priority: (step.priority ?? defaults.priority ?? 0) + request.priority,
    payload: request.payload,
    leaseSeconds: step.leaseSeconds ?? defaults.leaseSeconds ?? null,
    slaMinutes: step.slaMinutes ?? defaults.slaMinutes ?? null,
    retry: step.retry ?? defaults.retry ?? null,
  };
}

/**
 * The workflow engine of one request, as pure logic over a snapshot: given what happened to a step,
 * it decides what happens next (steps ready or skipped, the request completed, rejected or failed).
 * Every change goes through the state machines, so an impossible decision throws instead of being
 * stored. The service loads the snapshot under a row lock and applies the effects.
 */
export class Workflow {
  private readonly stepsById: Map<string, PlanStep>;

  constructor(
    private readonly plan: PlanDefinition,
    private readonly request: WorkflowRequest,
    private readonly steps: Map<string, WorkflowStep>,
  ) {
    this.stepsById = new Map(plan.steps.map((step) => [step.id, step]));
  }

  /** The steps that can run at once when the request is created. */
  start(): WorkflowEffect[] {
    return this.advance([]);
  }

  /** The task of a step completed with `output`. */
  completeStep(stepId: string, output: Record<string, unknown>): WorkflowEffect[] {
    this.moveStep(stepId, 'complete', output);
    const effects: WorkflowEffect[] = [{ kind: 'step-done', stepId, output }];
    if (this.planStep(stepId).approval) {
      const approved = output.approved;
      if (approved === false) return this.endRequest(effects, 'reject', { kind: 'request-rejected', stepId });
      if (approved !== true) {
        // Not a yes: an approval must never be assumed from a missing or malformed answer.
        const reason = `approval step '${stepId}' completed without approved: true or false in its output`;
        return this.endRequest(effects, 'fail', { kind: 'request-failed', stepId, reason });
      }
    }
    return this.advance(effects);
  }

  /** The task of a step is dead (attempts spent). */
  stepDead(stepId: string, error: { message: string } | null, attempts: number): WorkflowEffect[] {
    const cause = `its task is dead after ${attempts} attempt${attempts === 1 ? '' : 's'}${error?.message ? `: ${error.message}` : ''}`;
    if (this.planStep(stepId).optional) {
      this.moveStep(stepId, 'waive');
      return this.advance([{ kind: 'step-waived', stepId, reason: `optional step skipped: ${cause}` }]);
    }
    this.moveStep(stepId, 'fail');
    const reason = `step '${stepId}' failed: ${cause}`;
    return this.endRequest([{ kind: 'step-failed', stepId, reason }], 'fail', { kind: 'request-failed', stepId, reason });
  }

  /** The request is cancelled: its open steps are cancelled with it (OMS cancels their tasks). */
  cancel(reason: string): WorkflowEffect[] {
    return this.endRequest([], 'cancel', { kind: 'request-cancelled', reason });
  }

  /** The current status of every step (after the effects returned so far). */
  statuses(): Map<string, StepStatus> {
    return new Map([...this.steps].map(([id, step]) => [id, step.status]));
  }

  get requestStatus(): RequestStatus {
    return this.request.status;
  }

  /**
   * Starts every step whose dependencies are settled, skipping those whose `when` is false; a skip
   * can release further steps, so it repeats until nothing changes. Then completes the request if
   * every step is done or skipped.
   */
  private advance(effects: WorkflowEffect[]): WorkflowEffect[] {
    // One budget for every condition this decision evaluates: many steps cannot multiply it.
    const budget = new CelBudget();
    for (;;) {
      const ready = readySteps(this.plan.steps, this.statuses());
      if (ready.length === 0) break;
      let skipped = false;
      for (const stepId of ready) {
        const step = this.planStep(stepId);
        if (step.when !== undefined) {
          const result = evaluateWhen(step.when, this.whenContext(), budget);
          if (!result.ok) {
            this.moveStep(stepId, 'fail');
            const reason = `the when of step '${stepId}' could not be evaluated: ${result.error}`;
            return this.endRequest([...effects, { kind: 'step-failed', stepId, reason }], 'fail', { kind: 'request-failed', stepId, reason });
          }
          if (!result.value) {
            this.moveStep(stepId, 'skip');
            effects.push({ kind: 'step-skipped', stepId, reason: `when is false: ${step.when}` });
            skipped = true;
            continue;
          }
        }
        this.moveStep(stepId, 'activate');
        effects.push({ kind: 'step-ready', stepId, data: stepReadyData(this.plan, step, this.request) });
      }
      if (!skipped) break;
    }
    if (allStepsSettled(this.plan.steps, this.statuses())) {
      return this.endRequest(effects, 'complete', { kind: 'request-completed' });
    }
    return effects;
  }

  /** Ends the request; steps still open (parallel branches) can no longer matter, so they are cancelled. */
  private endRequest(effects: WorkflowEffect[], event: 'complete' | 'reject' | 'fail' | 'cancel', effect: WorkflowEffect): WorkflowEffect[] {
    this.request.status = transitionRequest(this.request.status, event);
    const cancelled: WorkflowEffect[] = [];
    for (const step of this.plan.steps) {
      const state = this.steps.get(step.id);
      if (state && isOpenStep(state.status)) {
        this.moveStep(step.id, 'cancel');
        cancelled.push({ kind: 'step-cancelled', stepId: step.id });
      }
    }
    return [...effects, ...cancelled, effect];
  }

  private whenContext(): WhenContext {
    const steps: WhenContext['steps'] = {};
    for (const [id, step] of this.steps) steps[id] = { status: step.status, output: step.output ?? {} };
    const { id, plan, reference, priority, payload } = this.request;
    return { payload, request: { id, plan, reference, priority }, steps };
  }

  private moveStep(stepId: string, event: StepEvent, output?: Record<string, unknown>): void {
    const step = this.steps.get(stepId);
    if (!step) throw new Error(`step '${stepId}' is not part of request ${this.request.id}`);
    step.status = transitionStep(step.status, event);
    if (output !== undefined) step.output = output;
  }

  private planStep(stepId: string): PlanStep {
    const step = this.stepsById.get(stepId);
    if (!step) throw new Error(`step '${stepId}' is not in plan '${this.plan.id}'`);
    return step;
  }
}
