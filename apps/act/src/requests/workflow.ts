import { CEL_LIMITS, FixedLimits, findJsonProblem, ItemSteps, jsonByteLength, limits, type EventDataMap, type PlanDefinition, type PlanStep, type RequestStatus, type StepStatus } from '@hms/contracts';
import { DEFAULT_MAX_PAYLOAD, DERIVED_MESSAGE_RESERVE_BYTES } from '@hms/platform';
import { isCelList } from '@bufbuild/cel';
import { CelBudget, evaluateCel } from '../plans/cel-program';
import { celToJson } from '../plans/cel-json';
import { dependenciesOf } from '../plans/plan-graph';
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
  /** The task's output; a fan-out's: its items' outputs in order, or their summary. */
  output: unknown;
  /** A finished fan-out's dead items; null (no fan-out, or not finished). */
  failedItems?: number[] | null;
}

/** How a fan-out's items ended, as the consumer read them once the last one did. */
export interface FanOutOutcome {
  /** By index: the item's output, or null for a dead item. */
  outputs: Array<Record<string, unknown> | null>;
  /** The dead items' indexes, ascending. */
  failed: number[];
}

/** A decision of the engine; the service stores it and emits its event in the same transaction. */
export type WorkflowEffect =
  | { kind: 'step-ready'; stepId: string; data: EventDataMap['act.step.ready'] }
  | { kind: 'step-skipped'; stepId: string; reason: string }
  | { kind: 'step-fanned-out'; stepId: string; items: number }
  | { kind: 'step-done'; stepId: string; output: unknown; failedItems?: number[] }
  | { kind: 'step-waived'; stepId: string; reason: string }
  | { kind: 'step-failed'; stepId: string; reason: string }
  | { kind: 'step-cancelled'; stepId: string }
  | { kind: 'request-completed'; result: unknown }
  | { kind: 'request-cancelled'; reason: string }
  | { kind: 'request-rejected'; stepId: string }
  | { kind: 'request-failed'; stepId: string; reason: string };

/** The `act.step.ready` data of a step: its own settings over the plan's defaults, and its task's input. */
export function stepReadyData(
  plan: PlanDefinition,
  step: PlanStep,
  request: Pick<WorkflowRequest, 'priority' | 'payload'>,
  input: Record<string, unknown>,
): EventDataMap['act.step.ready'] {
  const defaults = plan.defaults ?? {};
  return {
    stepId: step.id,
    pool: step.pool,
    title: step.title ?? step.id,
    tags: step.tags ?? defaults.tags ?? [],
    priority: (step.priority ?? defaults.priority ?? 0) + request.priority,
    payload: request.payload,
    input,
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
  private readonly deps: Map<string, string[]>;
  /** The step whose event led to this decision: named when the request's `output` fails it. */
  private decidingStep: string;

  /**
   * `maxPayload` is NATS's: a task's input travels with the payload in `act.step.ready` and in a
   * lease answer, so an input is held to what both can carry, never emitted too large to relay.
   */
  constructor(
    private readonly plan: PlanDefinition,
    private readonly request: WorkflowRequest,
    private readonly steps: Map<string, WorkflowStep>,
    private readonly maxPayload: number = DEFAULT_MAX_PAYLOAD,
  ) {
    this.stepsById = new Map(plan.steps.map((step) => [step.id, step]));
    this.deps = dependenciesOf(plan.steps);
    this.decidingStep = plan.steps[plan.steps.length - 1].id;
  }

  /** The steps that can run at once when the request is created. */
  start(): WorkflowEffect[] {
    return this.advance([]);
  }

  /** The task of a step completed with `output`. */
  completeStep(stepId: string, output: Record<string, unknown>): WorkflowEffect[] {
    this.decidingStep = stepId;
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
    this.decidingStep = stepId;
    const cause = `its task is dead after ${attempts} attempt${attempts === 1 ? '' : 's'}${error?.message ? `: ${error.message}` : ''}`;
    if (this.planStep(stepId).optional) {
      this.moveStep(stepId, 'waive');
      return this.advance([{ kind: 'step-waived', stepId, reason: `optional step skipped: ${cause}` }]);
    }
    this.moveStep(stepId, 'fail');
    const reason = `step '${stepId}' failed: ${cause}`;
    return this.endRequest([{ kind: 'step-failed', stepId, reason }], 'fail', { kind: 'request-failed', stepId, reason });
  }

  /**
   * Every item of a fan-out ended (under `onItemFailure: continue`, some dead): the step is done,
   * its output the items' outputs in order with null for the dead ones, or, when that list is
   * larger than the payload limit, a summary saying so (never a list cut short).
   */
  completeFanOut(stepId: string, outcome: FanOutOutcome): WorkflowEffect[] {
    this.decidingStep = stepId;
    const output = fanOutOutput(outcome);
    this.moveStep(stepId, 'complete', output);
    this.steps.get(stepId)!.failedItems = outcome.failed;
    return this.advance([{ kind: 'step-done', stepId, output, failedItems: outcome.failed }]);
  }

  /** What a dead item of a fan-out step does. */
  itemFailurePolicy(stepId: string): 'fail' | 'continue' {
    return this.planStep(stepId).onItemFailure ?? 'fail';
  }

  /** An item's task is dead and its step fails on one (`onItemFailure: fail`, the default): the step and the request fail. */
  itemDead(stepId: string, index: number, error: { message: string } | null, attempts: number): WorkflowEffect[] {
    this.decidingStep = stepId;
    this.moveStep(stepId, 'fail');
    const reason = `step '${stepId}' failed: the task of item ${index} is dead after ${attempts} attempt${attempts === 1 ? '' : 's'}${error?.message ? `: ${error.message}` : ''}`;
    return this.endRequest([{ kind: 'step-failed', stepId, reason }], 'fail', { kind: 'request-failed', stepId, reason });
  }

  /**
   * A fan-out step's list, evaluated again when its items are emitted (the payload and the
   * outputs it reads never change, so it is the list its activation counted).
   */
  fanOutItems(stepId: string): DataOutcome<unknown[]> {
    return this.forEachList(this.planStep(stepId));
  }

  /**
   * The `act.step.ready` of one item: the step's settings, the item's task step id and its
   * input (`item`, `index`, and the step's `input:` evaluated with them in scope, else the
   * default input), each item with its own CEL budget, as each is its own task.
   */
  itemReady(stepId: string, item: unknown, index: number): DataOutcome<EventDataMap['act.step.ready']> {
    const step = this.planStep(stepId);
    const input = this.inputOf(step, new CelBudget(), { item, index });
    if (!input.ok) return { ok: false, error: `the input of item ${index} of step '${stepId}' ${input.error}` };
    const data = stepReadyData(this.plan, step, this.request, input.value);
    return { ok: true, value: { ...data, stepId: ItemSteps.stepIdOf(stepId, index), title: `${data.title} [${index}]`.slice(0, FixedLimits.titleLength) } };
  }

  /** An item could not be emitted (its input failed): the step and the request fail with the reason. */
  failStep(stepId: string, reason: string): WorkflowEffect[] {
    this.decidingStep = stepId;
    this.moveStep(stepId, 'fail');
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
        if (step.forEach !== undefined) {
          const list = this.forEachList(step, budget);
          if (!list.ok) {
            this.moveStep(stepId, 'fail');
            const reason = `the forEach of step '${stepId}' ${list.error}`;
            return this.endRequest([...effects, { kind: 'step-failed', stepId, reason }], 'fail', { kind: 'request-failed', stepId, reason });
          }
          this.moveStep(stepId, 'activate');
          effects.push({ kind: 'step-fanned-out', stepId, items: list.value.length });
          if (list.value.length === 0) {
            // Nothing to do: done at once with an empty list, which may release further steps.
            this.moveStep(stepId, 'complete', []);
            this.steps.get(stepId)!.failedItems = [];
            effects.push({ kind: 'step-done', stepId, output: [], failedItems: [] });
            skipped = true;
          }
          continue;
        }
        const input = this.inputOf(step, budget);
        if (!input.ok) {
          this.moveStep(stepId, 'fail');
          const reason = `the input of step '${stepId}' ${input.error}`;
          return this.endRequest([...effects, { kind: 'step-failed', stepId, reason }], 'fail', { kind: 'request-failed', stepId, reason });
        }
        this.moveStep(stepId, 'activate');
        effects.push({ kind: 'step-ready', stepId, data: stepReadyData(this.plan, step, this.request, input.value) });
      }
      if (!skipped) break;
    }
    if (allStepsSettled(this.plan.steps, this.statuses())) {
      const result = this.resultOf(budget);
      if (!result.ok) {
        const reason = `the output of plan '${this.plan.id}' ${result.error}`;
        return this.endRequest(effects, 'fail', { kind: 'request-failed', stepId: this.decidingStep, reason });
      }
      return this.endRequest(effects, 'complete', { kind: 'request-completed', result: result.value });
    }
    return effects;
  }

  /**
   * The task's input: each `input:` expression evaluated (under the decision's budget) and made
   * JSON, or by default the payload and the outputs of the steps it directly depends on. Held to
   * the payload limit and to what NATS carries beside the payload, so a too-large input fails the
   * step with its reason rather than making an event no one could relay.
   */
  private inputOf(step: PlanStep, budget: CelBudget, item?: { item: unknown; index: number }): DataOutcome<Record<string, unknown>> {
    let input: Record<string, unknown>;
    if (step.input === undefined) {
      const steps: Record<string, { output: unknown; failed?: number[] }> = {};
      for (const dep of this.deps.get(step.id) ?? []) {
        const state = this.steps.get(dep);
        // A fan-out's dead items travel beside its list, where their slots are null.
        steps[dep] = state?.failedItems ? { output: state.output ?? null, failed: state.failedItems } : { output: state?.output ?? null };
      }
      input = { ...item, payload: this.request.payload, steps };
    } else {
      input = { ...item };
      const context = this.whenContext();
      for (const [name, source] of Object.entries(step.input)) {
        const value = this.evaluateData(source, context, budget, item);
        if (!value.ok) return { ok: false, error: `'${name}' could not be evaluated: ${value.error}` };
        Object.defineProperty(input, name, { value: value.value, enumerable: true, writable: true, configurable: true });
      }
    }
    const payloadBytes = Buffer.byteLength(JSON.stringify(this.request.payload));
    const room = Math.min(limits().payloadBytes, this.maxPayload - DERIVED_MESSAGE_RESERVE_BYTES - payloadBytes);
    const problem = dataProblem(input, room);
    return problem ? { ok: false, error: problem } : { ok: true, value: input };
  }

  /** The request's result: the plan's `output:`, or `{<id>: output}` of the steps no other step comes after. */
  private resultOf(budget: CelBudget): DataOutcome<unknown> {
    let result: unknown;
    if (this.plan.output === undefined) {
      const followed = new Set([...this.deps.values()].flat());
      const last: Record<string, unknown> = {};
      for (const step of this.plan.steps) if (!followed.has(step.id)) last[step.id] = this.steps.get(step.id)?.output ?? null;
      result = last;
    } else {
      const value = this.evaluateData(this.plan.output, this.whenContext(), budget);
      if (!value.ok) return { ok: false, error: `could not be evaluated: ${value.error}` };
      result = value.value;
    }
    const problem = dataProblem(result, limits().payloadBytes);
    return problem ? { ok: false, error: problem } : { ok: true, value: result };
  }

  /**
   * A `forEach` list: evaluated under a budget of its own, the CEL budget plus a unit per item a
   * fan-out may have (making the list JSON costs a unit per item, so a list at the width limit
   * fits), and refused, with the reason, when it is not a list or is wider than the limit.
   */
  private forEachList(step: PlanStep, shared?: CelBudget): DataOutcome<unknown[]> {
    const budget = new CelBudget(CEL_LIMITS.costBudget + FixedLimits.fanOutItems);
    if (shared?.exceeded) return { ok: false, error: `could not be evaluated: ${shared.error}` };
    const evaluation = evaluateCel(step.forEach!, { ...this.bindings() }, budget);
    if (!evaluation.ok) return { ok: false, error: `could not be evaluated: ${evaluation.error}` };
    const value = evaluation.value;
    if (!isCelList(value)) return { ok: false, error: 'did not give a list' };
    if (value.size > FixedLimits.fanOutItems) {
      return { ok: false, error: `gave ${value.size} items; a fan-out has at most ${FixedLimits.fanOutItems} (see docs/limits.md)` };
    }
    const json = celToJson(value, limits().jsonDepth, (units) => budget.spend(units), budget.error);
    if (!json.ok) return { ok: false, error: `could not be evaluated: ${json.error}` };
    return { ok: true, value: json.value as unknown[] };
  }

  private bindings(): Record<string, unknown> {
    const { payload, request, steps } = this.whenContext();
    return { payload, request, steps };
  }

  private evaluateData(source: string, context: WhenContext, budget: CelBudget, item?: { item: unknown; index: number }): DataOutcome<unknown> {
    const evaluation = evaluateCel(source, { payload: context.payload, request: context.request, steps: context.steps, ...item }, budget);
    if (!evaluation.ok) return evaluation;
    return celToJson(evaluation.value, limits().jsonDepth, (units) => budget.spend(units), budget.error);
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
    for (const [id, step] of this.steps) steps[id] = { status: step.status, output: step.output ?? {}, failed: step.failedItems ?? [] };
    const { id, plan, reference, priority, payload } = this.request;
    return { payload, request: { id, plan, reference, priority }, steps };
  }

  private moveStep(stepId: string, event: StepEvent, output?: unknown): void {
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

/**
 * What the steps after a fan-out read as its output: the list of its items' outputs by index
 * (null for a dead item), or, when that list is over the payload limit, a summary that says so
 * (the list as a whole could not be given to a task, stored as a request's result, or shown).
 */
export function fanOutOutput(outcome: FanOutOutcome): unknown {
  const bytes = jsonByteLength(outcome.outputs);
  if (bytes <= limits().payloadBytes) return outcome.outputs;
  return {
    items: outcome.outputs.length,
    completed: outcome.outputs.length - outcome.failed.length,
    failed: outcome.failed.length,
    outputsOmitted: `the ${outcome.outputs.length} items' outputs take ${bytes} bytes, over the payload limit of ${limits().payloadBytes} (HMS_LIMIT_PAYLOAD_KB); each item's output is on its task`,
  };
}

export type DataOutcome<T> = { ok: true; value: T } | { ok: false; error: string };

/** Why data made by the engine cannot be stored and carried (depth, NUL characters Postgres refuses, size), or null. */
function dataProblem(value: unknown, maxBytes: number): string | null {
  const problem = findJsonProblem(value, { maxDepth: limits().jsonDepth, maxBytes: Math.max(0, maxBytes) });
  if (!problem) return null;
  if (problem.kind === 'size') return `${problem.message} (the payload limit HMS_LIMIT_PAYLOAD_KB, and NATS max_payload beside the request's payload)`;
  return `${problem.path ? `at ${problem.path} ` : ''}${problem.message}`;
}
