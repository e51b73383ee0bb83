import { CEL_LIMITS, type PlanDefinition, type StepStatus } from '@hms/contracts';
import { fanOutOutput, stepReadyData, Workflow, type WorkflowRequest, type WorkflowStep } from './workflow';

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
    expect(stepReadyData(passport, passport.steps[0], { priority: 10, payload: { a: 1 } }, { b: 2 })).toEqual({
      stepId: 'ai_extract',
      pool: 'ai_extract',
      title: 'Extract',
      tags: ['ocr'],
      priority: 11,
      payload: { a: 1 },
      input: { b: 2 },
      leaseSeconds: 7200,
      slaMinutes: 10,
      retry: { attempts: 3, backoffSeconds: 30 },
    });
    expect(stepReadyData(passport, passport.steps[2], { priority: -2, payload: {} }, {})).toMatchObject({
      title: 'external_print',
      tags: ['default-tag'],
      priority: 3,
      retry: { attempts: 5 },
      slaMinutes: null,
    });
  });

  it('uses nulls and zero when neither step nor defaults say', () => {
    expect(stepReadyData({ id: 'p', steps: [{ id: 's', pool: 'q' }] }, { id: 's', pool: 'q' }, { priority: 0, payload: {} }, {})).toEqual({
      stepId: 's',
      pool: 'q',
      title: 's',
      tags: [],
      priority: 0,
      payload: {},
      input: {},
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

describe('Workflow data flow', () => {
  const readyData = (effects: ReturnType<Workflow['start']>, stepId: string) => {
    const effect = effects.find((e) => e.kind === 'step-ready' && e.stepId === stepId);
    if (effect?.kind !== 'step-ready') throw new Error(`no step-ready for ${stepId}`);
    return effect.data;
  };

  it('gives a step without input: the payload and the outputs of the steps it directly depends on', () => {
    const plan: PlanDefinition = { id: 'p', steps: [{ id: 'a', pool: 'q' }, { id: 'b', pool: 'q' }, { id: 'c', pool: 'q' }] };
    const workflow = workflowOf(plan, { a: 'done', b: 'ready' }, { a: { x: 1 } });
    expect(readyData(workflowOf(plan).start(), 'a').input).toEqual({ payload: { citizen: 'c-1' }, steps: {} });
    // c depends on b only: a's output is not copied along.
    expect(readyData(workflow.completeStep('b', { y: 2 }), 'c').input).toEqual({ payload: { citizen: 'c-1' }, steps: { b: { output: { y: 2 } } } });
  });

  it('lets a join see both branches, and a skipped dependency reads as a null output', () => {
    const plan: PlanDefinition = {
      id: 'p',
      steps: [
        { id: 'left', pool: 'q', after: [] },
        { id: 'right', pool: 'q', after: [], when: 'payload.right' },
        { id: 'join', pool: 'q', after: ['left', 'right'] },
      ],
    };
    const both = workflowOf(plan, { left: 'ready', right: 'done' }, { right: { r: true } });
    expect(readyData(both.completeStep('left', { l: 1 }), 'join').input).toEqual({
      payload: { citizen: 'c-1' },
      steps: { left: { output: { l: 1 } }, right: { output: { r: true } } },
    });
    const skipped = workflowOf(plan, { left: 'ready', right: 'skipped' });
    expect(readyData(skipped.completeStep('left', { l: 1 }), 'join').input?.steps).toEqual({ left: { output: { l: 1 } }, right: { output: null } });
  });

  it('evaluates input: expressions over payload, request and earlier outputs, as JSON', () => {
    const plan: PlanDefinition = {
      id: 'p',
      steps: [
        { id: 'extract', pool: 'ai' },
        {
          id: 'verify',
          pool: 'clerks',
          input: {
            passportNo: 'steps.extract.output.passport_no',
            ticket: 'payload.ticket',
            requestId: 'request.id',
            checks: '[steps.extract.output.confidence > 0.4, 3u, b"ok", timestamp("2024-01-01T00:00:00Z")]',
          },
        },
      ],
    };
    const workflow = workflowOf(plan, { extract: 'ready' }, {}, { payload: { ticket: 'T-1' } });
    expect(readyData(workflow.completeStep('extract', { confidence: 0.5, passport_no: '987654321' }), 'verify').input).toEqual({
      passportNo: '987654321',
      ticket: 'T-1',
      requestId: 'r1',
      checks: [true, 3, 'b2s=', '2024-01-01T00:00:00.000Z'],
    });
  });

  it('fails the step and the request with the reason when an input expression fails', () => {
    const plan: PlanDefinition = { id: 'p', steps: [{ id: 'a', pool: 'q' }, { id: 'b', pool: 'q', input: { no: 'steps.a.output.passport_no' } }] };
    const effects = workflowOf(plan, { a: 'ready' }).completeStep('a', { confidence: 0.2 });
    expect(kinds(effects)).toEqual(['step-done:a', 'step-failed:b', 'request-failed:b']);
    expect(effects.at(-1)).toEqual({ kind: 'request-failed', stepId: 'b', reason: expect.stringMatching(/^the input of step 'b' 'no' could not be evaluated: .*passport_no/) });
  });

  it('fails the step when an input spends past the CEL budget', () => {
    const items = Array.from({ length: CEL_LIMITS.costBudget }, (_, i) => i);
    const plan: PlanDefinition = { id: 'p', steps: [{ id: 'a', pool: 'q', input: { all: 'payload.items.map(x, x * 2)' } }] };
    const effects = workflowOf(plan, {}, {}, { payload: { items } }).start();
    expect(effects.at(-1)).toEqual({ kind: 'request-failed', stepId: 'a', reason: expect.stringContaining('exceeded the CEL cost budget') });
  });

  it('charges copying data into an input to the budget: naming a large payload many times fails rather than holding ACT', () => {
    const payload = { text: 'x'.repeat(200_000) };
    const input = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`copy${i}`, 'payload']));
    const plan: PlanDefinition = { id: 'p', steps: [{ id: 'a', pool: 'q', input }] };
    expect(workflowOf(plan, {}, {}, { payload }).start().at(-1)).toEqual({
      kind: 'request-failed',
      stepId: 'a',
      reason: expect.stringMatching(/^the input of step 'a' 'copy\d+' could not be evaluated: exceeded the CEL cost budget/),
    });
  });

  it('fails the step when the input would be too large to carry, or holds a NUL Postgres cannot store, never emitting it', () => {
    const big = 'x'.repeat(200_000);
    const plan: PlanDefinition = { id: 'p', steps: [{ id: 'a', pool: 'q', input: { twice: 'payload.big + payload.big' } }] };
    const effects = workflowOf(plan, {}, {}, { payload: { big } }).start();
    expect(kinds(effects)).toEqual(['step-failed:a', 'request-failed:a']);
    expect(effects.at(-1)).toMatchObject({ reason: expect.stringMatching(/^the input of step 'a' is \d+ bytes of JSON; at most \d+ are allowed/) });

    const nul: PlanDefinition = { id: 'p', steps: [{ id: 'a', pool: 'q', input: { text: '"a\\x00b"' } }] };
    expect(workflowOf(nul).start().at(-1)).toMatchObject({ kind: 'request-failed', reason: expect.stringContaining('NUL') });
  });

  it('holds the input to what NATS max_payload carries beside the payload', () => {
    const plan: PlanDefinition = { id: 'p', steps: [{ id: 'a', pool: 'q' }] };
    const payload = { text: 'x'.repeat(30_000) };
    const steps = new Map<string, WorkflowStep>([['a', { status: 'pending', output: null }]]);
    const small = new Workflow(plan, { id: 'r1', plan: 'p', status: 'running', reference: null, priority: 0, payload }, steps, 64 * 1024);
    expect(kinds(small.start())).toEqual(['step-failed:a', 'request-failed:a']);
  });

  it('completes with the outputs of the last steps by default', () => {
    const plan: PlanDefinition = { id: 'p', steps: [{ id: 'a', pool: 'q' }, { id: 'b', pool: 'q', after: ['a'] }, { id: 'c', pool: 'q', after: ['a'] }] };
    const workflow = workflowOf(plan, { a: 'done', b: 'done', c: 'ready' }, { a: { x: 1 }, b: { y: 2 } });
    expect(workflow.completeStep('c', { z: 3 }).at(-1)).toEqual({ kind: 'request-completed', result: { b: { y: 2 }, c: { z: 3 } } });
  });

  it('completes with the plan output evaluated over the steps', () => {
    const plan: PlanDefinition = { id: 'p', output: '{"no": steps.a.output.no, "ticket": payload.ticket}', steps: [{ id: 'a', pool: 'q' }] };
    const workflow = workflowOf(plan, { a: 'ready' }, {}, { payload: { ticket: 'T-1' } });
    expect(workflow.completeStep('a', { no: '123' }).at(-1)).toEqual({ kind: 'request-completed', result: { no: '123', ticket: 'T-1' } });
  });

  it('fails the request with the reason when the plan output fails', () => {
    const plan: PlanDefinition = { id: 'p', output: 'steps.a.output.missing', steps: [{ id: 'a', pool: 'q' }] };
    const workflow = workflowOf(plan, { a: 'ready' });
    expect(workflow.completeStep('a', {}).at(-1)).toEqual({ kind: 'request-failed', stepId: 'a', reason: expect.stringMatching(/^the output of plan 'p' could not be evaluated: .*missing/) });
    expect(workflow.requestStatus).toBe('failed');
  });
});

describe('Workflow fan-out', () => {
  const rescore: PlanDefinition = {
    id: 'rescore',
    steps: [
      { id: 'score', pool: 'bots', title: 'Score', forEach: 'lists.range(payload.count)', onItemFailure: 'continue', input: { file: '"f-" + string(item)' } },
      { id: 'report', pool: 'clerks' },
    ],
  };

  it('starts a forEach step as a fan-out of its list, not a task', () => {
    const workflow = workflowOf(rescore, {}, {}, { payload: { count: 3 } });
    expect(workflow.start()).toEqual([{ kind: 'step-fanned-out', stepId: 'score', items: 3 }]);
    expect(workflow.fanOutItems('score')).toEqual({ ok: true, value: [0, 1, 2] });
  });

  it("makes each item's act.step.ready with its own step id, title and input", () => {
    const workflow = workflowOf(rescore, { score: 'ready' }, {}, { payload: { count: 3 } });
    expect(workflow.itemReady('score', 2, 2)).toEqual({
      ok: true,
      value: expect.objectContaining({ stepId: 'score[2]', title: 'Score [2]', pool: 'bots', input: { item: 2, index: 2, file: 'f-2' } }),
    });
  });

  it('completes an empty fan-out at once and goes on', () => {
    const workflow = workflowOf(rescore, {}, {}, { payload: { count: 0 } });
    expect(kinds(workflow.start())).toEqual(['step-fanned-out:score', 'step-done:score', 'step-ready:report']);
  });

  it('fails the request when the list is not a list, or too wide', () => {
    const notList = workflowOf({ id: 'p', steps: [{ id: 's', pool: 'q', forEach: 'payload.files' }] }, {}, {}, { payload: { files: 'a' } });
    expect(notList.start()).toContainEqual({ kind: 'request-failed', stepId: 's', reason: "the forEach of step 's' did not give a list" });
    const wide = workflowOf(rescore, {}, {}, { payload: { count: 100_001 } });
    expect(wide.start()).toContainEqual(expect.objectContaining({ kind: 'request-failed', reason: expect.stringMatching(/is wider than a fan-out may be \(100000 items/) }));
  });

  it('completes the step with the outputs by index and the dead indexes, which the next step reads', () => {
    const workflow = workflowOf(rescore, { score: 'ready' }, {}, { payload: { count: 3 } });
    const effects = workflow.completeFanOut('score', { outputs: [{ s: 0 }, null, { s: 2 }], failed: [1] });
    expect(effects[0]).toEqual({ kind: 'step-done', stepId: 'score', output: [{ s: 0 }, null, { s: 2 }], failedItems: [1] });
    const ready = effects.find((effect) => effect.kind === 'step-ready');
    expect(ready && 'data' in ready && ready.data.input).toEqual({ payload: { count: 3 }, steps: { score: { output: [{ s: 0 }, null, { s: 2 }], failed: [1] } } });
  });

  it('gives a summary instead of an output list over the payload limit', () => {
    const big = { text: 'x'.repeat(100_000) };
    expect(fanOutOutput({ outputs: [big, big, big], failed: [] })).toEqual({
      items: 3,
      completed: 3,
      failed: 0,
      outputsOmitted: expect.stringMatching(/^the 3 items' outputs take 3000\d+ bytes, over the payload limit of 262144/),
    });
    expect(fanOutOutput({ outputs: [{ a: 1 }, null], failed: [1] })).toEqual([{ a: 1 }, null]);
  });

  it('fails the step and the request on a dead item under fail', () => {
    const strict: PlanDefinition = { id: 'strict', steps: [{ id: 'files', pool: 'bots', forEach: 'payload.files' }, { id: 'join', pool: 'q' }] };
    const workflow = workflowOf(strict, { files: 'ready' }, {}, { payload: { files: ['a'] } });
    expect(workflow.itemFailurePolicy('files')).toBe('fail');
    expect(workflow.itemDead('files', 4, { message: 'unreadable' }, 3)).toEqual([
      { kind: 'step-failed', stepId: 'files', reason: "step 'files' failed: the task of item 4 is dead after 3 attempts: unreadable" },
      { kind: 'step-cancelled', stepId: 'join' },
      { kind: 'request-failed', stepId: 'files', reason: "step 'files' failed: the task of item 4 is dead after 3 attempts: unreadable" },
    ]);
  });
});
