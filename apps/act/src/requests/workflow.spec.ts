import { CEL_LIMITS, type PlanDefinition, type StepStatus } from '@hms/contracts';
import { stepReadyData, Workflow, type WorkflowRequest, type WorkflowStep } from './workflow';

const passport: PlanDefinition = {
  id: 'passport_renewal',
  defaults: { leaseSeconds: 7200, retry: { attempts: 3, backoffSeconds: 30 }, tags: ['default-tag'], priority: 1 },
  steps: [
    { id: 'ai_extract', pool: 'ai_extract', title: 'Extract', tags: ['ocr'], slaMinutes: 10 },
    { id: 'human_verify', pool: 'human_verify', when: 'steps.ai_extract.output.confidence < 0.9', approval: true },
    { id: 'external_print', pool: 'external_print', priority: 5, optional: true, retry: { attempts: 5 } },
  ],
};

function workflowOf(plan: PlanDefinition, statuses: Record<string, StepStatus> = {}, outputs: Record<string, Record<string, unknown>> = {}, request: Partial<WorkflowRequest> = {}) {
  const steps = new Map<string, WorkflowStep>(plan.steps.map((step) => [step.id, { status: statuses[step.id] ?? 'pending', output: outputs[step.id] ?? null }]));
  const workflow = new Workflow(plan, { id: 'r1', plan: plan.id, status: 'running', reference: null, priority: 10, payload: { citizen: 'c-1' }, ...request }, steps);
  return workflow;
}

const kinds = (effects: Array<{ kind: string; stepId?: string }>) => effects.map((effect) => (effect.stepId ? `${effect.kind}:${effect.stepId}` : effect.kind));

describe('stepReadyData', () => {
  it('merges the step over the plan defaults and adds the request priority', () => {
    expect(stepReadyData(passport, passport.steps[0], { priority: 10, payload: { a: 1 } })).toEqual({
      stepId: 'ai_extract',
      pool: 'ai_extract',
      title: 'Extract',
      tags: ['ocr'],
      priority: 11,
      payload: { a: 1 },
      leaseSeconds: 7200,
      slaMinutes: 10,
      retry: { attempts: 3, backoffSeconds: 30 },
    });
    expect(stepReadyData(passport, passport.steps[2], { priority: -2, payload: {} })).toMatchObject({
      title: 'external_print',
      tags: ['default-tag'],
      priority: 3,
      retry: { attempts: 5 },
      slaMinutes: null,
    });
  });

  it('uses nulls and zero when neither step nor defaults say', () => {
    expect(stepReadyData({ id: 'p', steps: [{ id: 's', pool: 'q' }] }, { id: 's', pool: 'q' }, { priority: 0, payload: {} })).toEqual({
      stepId: 's',
      pool: 'q',
      title: 's',
      tags: [],
      priority: 0,
      payload: {},
      leaseSeconds: null,
      slaMinutes: null,
      retry: null,
    });
  });
});

describe(Workflow.name, () => {
  it('starts the first step of a sequence', () => {
    const workflow = workflowOf(passport);
    const effects = workflow.start();
    expect(kinds(effects)).toEqual(['step-ready:ai_extract']);
    expect(effects[0]).toMatchObject({ data: { pool: 'ai_extract', payload: { citizen: 'c-1' }, priority: 11 } });
    expect(workflow.statuses().get('ai_extract')).toBe('ready');
  });

  it('starts every step with after: [] at once', () => {
    const plan: PlanDefinition = { id: 'p', steps: [{ id: 'a', pool: 'q', after: [] }, { id: 'b', pool: 'q', after: [] }, { id: 'c', pool: 'q', after: ['a', 'b'] }] };
    const workflow = workflowOf(plan);
    expect(kinds(workflow.start())).toEqual(['step-ready:a', 'step-ready:b']);
    expect(kinds(workflow.completeStep('a', {}))).toEqual(['step-done:a']);
    expect(kinds(workflow.completeStep('b', {}))).toEqual(['step-done:b', 'step-ready:c']);
  });

  it('runs a step whose when is true', () => {
    const workflow = workflowOf(passport, { ai_extract: 'ready' });
    expect(kinds(workflow.completeStep('ai_extract', { confidence: 0.5 }))).toEqual(['step-done:ai_extract', 'step-ready:human_verify']);
  });

  it('skips a step whose when is false and starts what follows it in the same pass', () => {
    const workflow = workflowOf(passport, { ai_extract: 'ready' });
    const effects = workflow.completeStep('ai_extract', { confidence: 0.95 });
    expect(kinds(effects)).toEqual(['step-done:ai_extract', 'step-skipped:human_verify', 'step-ready:external_print']);
    expect(effects[1]).toEqual({ kind: 'step-skipped', stepId: 'human_verify', reason: 'when is false: steps.ai_extract.output.confidence < 0.9' });
  });

  it('completes the request when the last step is done', () => {
    const workflow = workflowOf(passport, { ai_extract: 'done', human_verify: 'done', external_print: 'ready' });
    expect(kinds(workflow.completeStep('external_print', { printed: true }))).toEqual(['step-done:external_print', 'request-completed']);
    expect(workflow.requestStatus).toBe('completed');
  });

  it('completes at once a request whose every step is skipped', () => {
    const plan: PlanDefinition = { id: 'p', steps: [{ id: 'a', pool: 'q', when: 'payload.urgent' }, { id: 'b', pool: 'q', when: 'payload.urgent' }] };
    const workflow = workflowOf(plan, {}, {}, { payload: { urgent: false } });
    expect(kinds(workflow.start())).toEqual(['step-skipped:a', 'step-skipped:b', 'request-completed']);
  });

  it('spends one CEL budget on all the conditions of a decision, and fails the step that goes past it', () => {
    // Each condition alone is within the budget (two thirds of it); parallel steps cannot multiply it.
    const items = Array.from({ length: Math.floor(CEL_LIMITS.costBudget / 24) }, (_, i) => i);
    const when = 'payload.items.all(x, x >= 0)';
    const plan: PlanDefinition = { id: 'p', steps: ['a', 'b', 'c'].map((id) => ({ id, pool: 'q', after: [], when })) };
    expect(kinds(workflowOf(plan, {}, {}, { payload: { items: items.slice(0, 10) } }).start())).toEqual(['step-ready:a', 'step-ready:b', 'step-ready:c']);

    const effects = workflowOf(plan, {}, {}, { payload: { items } }).start();
    expect(kinds(effects)).toEqual(['step-ready:a', 'step-failed:b', 'step-cancelled:a', 'step-cancelled:c', 'request-failed:b']);
    expect(effects.at(-1)).toEqual({
      kind: 'request-failed',
      stepId: 'b',
      reason: `the when of step 'b' could not be evaluated: exceeded the CEL cost budget of ${CEL_LIMITS.costBudget} units (see docs/limits.md)`,
    });
  });

  it('rejects the request when an approval step says approved: false, cancelling open steps', () => {
    const plan: PlanDefinition = { id: 'p', steps: [{ id: 'a', pool: 'q', approval: true }, { id: 'side', pool: 'q', after: [] }, { id: 'b', pool: 'q', after: ['a'] }] };
    const workflow = workflowOf(plan, { a: 'ready', side: 'ready' });
    expect(workflow.completeStep('a', { approved: false })).toEqual([
      { kind: 'step-done', stepId: 'a', output: { approved: false } },
      { kind: 'step-cancelled', stepId: 'side' },
      { kind: 'step-cancelled', stepId: 'b' },
      { kind: 'request-rejected', stepId: 'a' },
    ]);
    expect(workflow.requestStatus).toBe('rejected');
  });

  it('goes on when an approval step says approved: true', () => {
    const workflow = workflowOf(passport, { ai_extract: 'done', human_verify: 'ready' }, { ai_extract: { confidence: 0.2 } });
    expect(kinds(workflow.completeStep('human_verify', { approved: true }))).toEqual(['step-done:human_verify', 'step-ready:external_print']);
  });

  it('fails the request when an approval step gives no approved boolean', () => {
    const workflow = workflowOf(passport, { ai_extract: 'done', human_verify: 'ready' });
    const effects = workflow.completeStep('human_verify', { approved: 'yes' });
    expect(kinds(effects)).toEqual(['step-done:human_verify', 'step-cancelled:external_print', 'request-failed:human_verify']);
    expect(workflow.requestStatus).toBe('failed');
  });

  it('fails the request when a required step is dead', () => {
    const workflow = workflowOf(passport, { ai_extract: 'ready' });
    const reason = "step 'ai_extract' failed: its task is dead after 3 attempts: scanner offline";
    expect(workflow.stepDead('ai_extract', { message: 'scanner offline' }, 3)).toEqual([
      { kind: 'step-failed', stepId: 'ai_extract', reason },
      { kind: 'step-cancelled', stepId: 'human_verify' },
      { kind: 'step-cancelled', stepId: 'external_print' },
      { kind: 'request-failed', stepId: 'ai_extract', reason },
    ]);
  });

  it('goes on without an optional step whose task is dead', () => {
    const plan: PlanDefinition = { id: 'p', steps: [{ id: 'print', pool: 'q', optional: true }, { id: 'notify', pool: 'q' }] };
    const workflow = workflowOf(plan, { print: 'ready' });
    expect(workflow.stepDead('print', null, 1)).toEqual([
      { kind: 'step-waived', stepId: 'print', reason: 'optional step skipped: its task is dead after 1 attempt' },
      expect.objectContaining({ kind: 'step-ready', stepId: 'notify' }),
    ]);
    expect(kinds(workflow.completeStep('notify', {}))).toEqual(['step-done:notify', 'request-completed']);
  });

  it('fails the request when a when expression cannot be evaluated', () => {
    const workflow = workflowOf(passport, { ai_extract: 'ready' });
    const effects = workflow.completeStep('ai_extract', { text: 'no confidence here' });
    expect(kinds(effects)).toEqual(['step-done:ai_extract', 'step-failed:human_verify', 'step-cancelled:external_print', 'request-failed:human_verify']);
    expect(effects[3]).toMatchObject({ reason: expect.stringMatching(/^the when of step 'human_verify' could not be evaluated: .*confidence/) });
  });

  it('cancels a running request and its open steps', () => {
    const workflow = workflowOf(passport, { ai_extract: 'done', human_verify: 'ready' });
    expect(workflow.cancel('citizen withdrew')).toEqual([
      { kind: 'step-cancelled', stepId: 'human_verify' },
      { kind: 'step-cancelled', stepId: 'external_print' },
      { kind: 'request-cancelled', reason: 'citizen withdrew' },
    ]);
    expect(() => workflow.cancel('again')).toThrow('A cancelled request cannot cancel');
  });

  it('refuses to complete a step that is not running', () => {
    expect(() => workflowOf(passport).completeStep('human_verify', {})).toThrow('A pending step cannot complete');
    expect(() => workflowOf(passport, { ai_extract: 'done' }).completeStep('ai_extract', {})).toThrow('A done step cannot complete');
  });

  it('refuses steps the plan does not have', () => {
    expect(() => workflowOf(passport).completeStep('ghost', {})).toThrow("step 'ghost' is not part of request r1");
  });
});
