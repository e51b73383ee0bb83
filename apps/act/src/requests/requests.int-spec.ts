import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventStream, type RequestStatus, type RequestView } from '@hms/contracts';
import { EventOutbox } from '@hms/platform';
import { eventually, requestInStatus, rpcError, startAct, type ActHarness } from '../testing/act-harness';
import { WorkflowService } from './workflow.service';

// Booting the service and waiting for consumers takes seconds on a busy CI machine.
jest.setTimeout(30_000);

const EXAMPLES = join(__dirname, '..', '..', '..', '..', 'examples', 'plans');
const example = (name: string) => readFileSync(join(EXAMPLES, `${name}.plan.yaml`), 'utf8');

describe('ACT requests and their workflow', () => {
  let act: ActHarness;

  beforeAll(async () => {
    act = await startAct('act_requests');
    for (const name of ['disaster-voucher', 'passport-renewal', 'pothole-repair']) await act.call('act.plan.register', { yaml: example(name) });
    await act.call('act.plan.register', {
      definition: {
        id: 'fan_out',
        steps: [
          { id: 'photos', pool: 'clerks', after: [] },
          { id: 'records', pool: 'clerks', after: [] },
          { id: 'decide', pool: 'managers', after: ['photos', 'records'], when: "payload.kind == 'full'" },
          { id: 'archive', pool: 'bots' },
        ],
      },
    });
    await act.call('act.plan.register', {
      definition: {
        id: 'data_flow',
        output: '{"passportNo": steps.verify.output.passportNo, "approved": steps.verify.output.approved, "ticket": payload.ticket}',
        steps: [
          { id: 'extract', pool: 'ai' },
          { id: 'verify', pool: 'clerks', input: { passportNo: 'steps.extract.output.passport_no', ticket: 'payload.ticket' } },
          { id: 'audit', pool: 'bots', input: { bad: 'steps.extract.output.passport_no + 1' }, when: 'payload.audit' },
        ],
      },
    });
  });

  afterAll(async () => {
    await act?.close();
  });

  const create = async (plan: string, extra: Record<string, unknown> = {}) => (await act.call('act.request.create', { plan, payload: { citizen: 'c-1' }, ...extra })).request;

  const get = (id: string) => act.call('act.request.get', { id });

  const waitForStatus = (id: string, status: RequestStatus) => requestInStatus(act, id, status);

  const waitForStep = (id: string, stepId: string, predicate: (step: RequestView['steps'][number]) => boolean) =>
    eventually(async () => {
      const request = await get(id);
      const step = request.steps.find((s) => s.stepId === stepId)!;
      if (!predicate(step)) throw new Error(`step ${stepId} is ${JSON.stringify(step)}`);
      return request;
    });

  /** What OMS does with a ready step: queue it as a task and report that. */
  const queue = async (requestId: string, stepId: string, pool = 'q') => {
    const taskId = randomUUID();
    await act.publish('oms.task.queued', requestId, { taskId, stepId, pool, priority: 0, tags: [], attempt: 1, slaDueAt: null }, { actor: 'system:oms' });
    return taskId;
  };

  /** An `oms.task.completed` as OMS would emit it, for handing to the workflow in one consumer batch. */
  const completion = (requestId: string, stepId: string, output: Record<string, unknown> = {}, attempt = 1) => ({
    id: randomUUID(),
    type: 'oms.task.completed' as const,
    at: new Date().toISOString(),
    actor: 'worker@hms',
    requestId,
    source: 'oms' as const,
    data: { taskId: randomUUID(), stepId, pool: 'clerks', worker: 'w', leaseId: randomUUID(), attempt, output },
  });

  const complete = (requestId: string, stepId: string, output: Record<string, unknown>, taskId = randomUUID(), attempt = 1) =>
    act.publish('oms.task.completed', requestId, { taskId, stepId, pool: 'q', worker: 'worker-1', leaseId: randomUUID(), attempt, output });

  const dead = (requestId: string, stepId: string, attempts = 3) =>
    act.publish('oms.task.dead', requestId, { taskId: randomUUID(), stepId, pool: 'q', attempts, error: { message: 'printer on fire' } }, { actor: 'system:oms' });

  it('creates a request and emits act.request.created and act.step.ready for its first step', async () => {
    const created = act.collect('act.request.created');
    const ready = act.collect('act.step.ready');
    const { request, created: isNew } = await act.call('act.request.create', { plan: 'disaster_voucher', payload: { household: 4 }, reference: 'FEMA-1', priority: 7 });
    expect(isNew).toBe(true);
    expect(request).toMatchObject({ plan: 'disaster_voucher', version: 1, status: 'running', reference: 'FEMA-1', priority: 7, completedAt: null, escalations: [] });
    expect(new Date(request.slaDueAt!).getTime() - new Date(request.createdAt).getTime()).toBe(10080 * 60_000);

    const createdEvent = await created.waitFor((e) => e.requestId === request.id);
    expect(createdEvent).toMatchObject({ source: 'act', actor: 'manager@hms', data: { plan: 'disaster_voucher', version: 1, reference: 'FEMA-1', priority: 7, slaDueAt: request.slaDueAt } });
    const readyEvent = await ready.waitFor((e) => e.requestId === request.id);
    expect(readyEvent.data).toEqual({
      stepId: 'verify_income',
      pool: 'hud_case_workers',
      title: 'Verify household income',
      tags: ['income_check'],
      priority: 7,
      payload: { household: 4 },
      input: { payload: { household: 4 }, steps: {} },
      leaseSeconds: null,
      slaMinutes: 1440,
      retry: { attempts: 3, backoffSeconds: 60, backoffFactor: 2 },
    });
    // Only the first step of a sequence is ready.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(ready.forRequest(request.id)).toHaveLength(1);

    const view = await get(request.id);
    expect(view).toMatchObject({ payload: { household: 4 }, createdBy: 'manager@hms' });
    expect(view.steps.map((s) => [s.stepId, s.status, s.pool, s.attempts, s.taskId, s.output])).toEqual([
      ['verify_income', 'ready', 'hud_case_workers', 0, null, null],
      ['inspect', 'pending', 'fema_inspectors', 0, null, null],
      ['pay', 'pending', 'payments', 0, null, null],
    ]);
  });

  it('advances step by step as OMS completes tasks, to completed', async () => {
    const ready = act.collect('act.step.ready');
    const completed = act.collect('act.request.completed');
    const request = await create('disaster_voucher');
    for (const [stepId, output] of [
      ['verify_income', { income: 31000 }],
      ['inspect', { damage: 'severe' }],
      ['pay', { paymentId: 'P-77' }],
    ] as const) {
      await ready.waitFor((e) => e.requestId === request.id && e.data.stepId === stepId);
      const taskId = await queue(request.id, stepId);
      await waitForStep(request.id, stepId, (s) => s.taskId === taskId);
      await complete(request.id, stepId, output, taskId);
    }
    const done = await waitForStatus(request.id, 'completed');
    expect(done.completedAt).not.toBeNull();
    expect(done.steps.map((s) => [s.stepId, s.status, s.output, s.attempts])).toEqual([
      ['verify_income', 'done', { income: 31000 }, 1],
      ['inspect', 'done', { damage: 'severe' }, 1],
      ['pay', 'done', { paymentId: 'P-77' }, 1],
    ]);
    expect(await completed.waitFor((e) => e.requestId === request.id)).toMatchObject({ actor: 'system:act', data: { plan: 'disaster_voucher' } });
    expect(ready.forRequest(request.id).map((e) => e.data.stepId)).toEqual(['verify_income', 'inspect', 'pay']);
    // Each step's task carries the payload and what the step before it produced.
    expect(ready.forRequest(request.id).find((e) => e.data.stepId === 'pay')?.data.input).toEqual({ payload: { citizen: 'c-1' }, steps: { inspect: { output: { damage: 'severe' } } } });
    // Without an output: in the plan, the result is the output of its last step.
    expect(done).toMatchObject({ result: { pay: { paymentId: 'P-77' } }, details: { reason: null, stepId: null, escalations: [] } });
  });

  it('records a batch of queued tasks on their steps together, in the order OMS reported them', async () => {
    const first = await create('fan_out');
    const second = await create('fan_out');
    const queued = (requestId: string, stepId: string) => ({
      id: randomUUID(),
      type: 'oms.task.queued' as const,
      at: new Date().toISOString(),
      actor: 'system:oms',
      requestId,
      source: 'oms' as const,
      data: { taskId: randomUUID(), stepId, pool: 'clerks', priority: 0, tags: [], attempt: 0, slaDueAt: null },
    });
    // photos and records are ready; decide waits for them, so it cannot take a task yet.
    const run = [queued(first.id, 'photos'), queued(first.id, 'records'), queued(second.id, 'photos'), queued(second.id, 'photos'), queued(second.id, 'decide')];
    // One message, as OMS's relay sends a run of one type: the consumer handles it as one batch.
    const oms = await act.busOf('oms');
    await oms.jetstream.publish(oms.subject(EventStream.subjectOf('oms.task.queued')), JSON.stringify(run), { msgID: `${run[0]!.id}+${run.length}` });

    const taskOf = (view: RequestView, stepId: string) => view.steps.find((step) => step.stepId === stepId)!.taskId;
    await waitForStep(second.id, 'photos', (step) => step.taskId === run[3]!.data.taskId);
    const [one, two] = [await get(first.id), await get(second.id)];
    expect([taskOf(one, 'photos'), taskOf(one, 'records')]).toEqual([run[0]!.data.taskId, run[1]!.data.taskId]);
    // The later of two tasks of a step is the one recorded; a step that cannot take one keeps none.
    expect([taskOf(two, 'photos'), taskOf(two, 'decide')]).toEqual([run[3]!.data.taskId, null]);
    expect(two.steps.find((step) => step.stepId === 'decide')!.status).toBe('pending');
  });

  it('rejects the request when an approval step answers approved: false', async () => {
    const rejected = act.collect('act.request.rejected');
    const request = await create('pothole_repair');
    await complete(request.id, 'triage', { severity: 'high' });
    await waitForStep(request.id, 'approve_repair', (s) => s.status === 'ready');
    await complete(request.id, 'approve_repair', { approved: false, note: 'scheduled for resurfacing' });
    const view = await waitForStatus(request.id, 'rejected');
    expect(view.steps.map((s) => s.status)).toEqual(['done', 'done', 'cancelled', 'cancelled']);
    expect(view).toMatchObject({ result: null, details: { reason: "step 'approve_repair' rejected the request", stepId: 'approve_repair' } });
    expect(await rejected.waitFor((e) => e.requestId === request.id)).toMatchObject({ data: { plan: 'pothole_repair', stepId: 'approve_repair' } });
  });

  it('fails the request when a required step is dead, and ignores later events of it', async () => {
    const failed = act.collect('act.request.failed');
    const ready = act.collect('act.step.ready');
    const request = await create('disaster_voucher');
    await act.publish('oms.task.failed', request.id, {
      taskId: randomUUID(),
      stepId: 'verify_income',
      pool: 'q',
      worker: 'w',
      leaseId: randomUUID(),
      attempt: 2,
      error: { message: 'timeout' },
      retryAt: new Date().toISOString(),
    });
    await waitForStep(request.id, 'verify_income', (s) => s.attempts === 2 && s.status === 'ready');
    await dead(request.id, 'verify_income', 3);
    const view = await waitForStatus(request.id, 'failed');
    expect(view.steps.map((s) => [s.status, s.attempts])).toEqual([
      ['failed', 3],
      ['cancelled', 0],
      ['cancelled', 0],
    ]);
    const event = await failed.waitFor((e) => e.requestId === request.id);
    expect(event.data).toEqual({ plan: 'disaster_voucher', stepId: 'verify_income', reason: "step 'verify_income' failed: its task is dead after 3 attempts: printer on fire" });

    await complete(request.id, 'verify_income', { late: true });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await get(request.id)).status).toBe('failed');
    expect(ready.forRequest(request.id).map((e) => e.data.stepId)).toEqual(['verify_income']);
  });

  it('skips a step whose when is false and goes on past an optional step whose task is dead', async () => {
    const skipped = act.collect('act.step.skipped');
    const completed = act.collect('act.request.completed');
    const request = await create('passport_renewal');
    await complete(request.id, 'ai_extract', { confidence: 0.97 });
    await waitForStep(request.id, 'external_print', (s) => s.status === 'ready');
    expect((await get(request.id)).steps.find((s) => s.stepId === 'human_verify')?.status).toBe('skipped');
    await dead(request.id, 'external_print', 5);
    const view = await waitForStatus(request.id, 'completed');
    expect(view.steps.map((s) => [s.stepId, s.status])).toEqual([
      ['ai_extract', 'done'],
      ['human_verify', 'skipped'],
      ['external_print', 'skipped'],
    ]);
    await completed.waitFor((e) => e.requestId === request.id);
    expect(skipped.forRequest(request.id).map((e) => e.data)).toEqual([
      { stepId: 'human_verify', reason: 'when is false: steps.ai_extract.output.confidence < 0.9' },
      { stepId: 'external_print', reason: 'optional step skipped: its task is dead after 5 attempts: printer on fire' },
    ]);
  });

  it('asks a person when the extraction is unsure', async () => {
    const request = await create('passport_renewal');
    await complete(request.id, 'ai_extract', { confidence: 0.5 });
    await waitForStep(request.id, 'human_verify', (s) => s.status === 'ready');
    await complete(request.id, 'human_verify', { approved: true });
    await waitForStep(request.id, 'external_print', (s) => s.status === 'ready');
    await complete(request.id, 'external_print', { tracking: 'X1' });
    await waitForStatus(request.id, 'completed');
  });

  it('starts parallel steps together and joins them', async () => {
    const ready = act.collect('act.step.ready');
    const request = await create('fan_out', { payload: { kind: 'full' } });
    await eventually(() => expect(ready.forRequest(request.id).map((e) => e.data.stepId)).toEqual(['photos', 'records']));
    await complete(request.id, 'records', {});
    await waitForStep(request.id, 'records', (s) => s.status === 'done');
    expect((await get(request.id)).steps.find((s) => s.stepId === 'decide')?.status).toBe('pending');
    await complete(request.id, 'photos', { shots: 3 });
    await waitForStep(request.id, 'decide', (s) => s.status === 'ready');
    // The join sees both branches' outputs.
    expect((await ready.waitFor((e) => e.requestId === request.id && e.data.stepId === 'decide')).data.input).toEqual({
      payload: { kind: 'full' },
      steps: { photos: { output: { shots: 3 } }, records: { output: {} } },
    });
    await complete(request.id, 'decide', {});
    await waitForStep(request.id, 'archive', (s) => s.status === 'ready');
  });

  it('starts a join once when its branches complete at the same moment on two replicas', async () => {
    // Two transactions at once, as two replicas' consumers would run them: without the request row
    // lock each would still see the other branch running, and the join would never start.
    const workflow = act.app.get(WorkflowService);
    const outbox = act.app.get(EventOutbox);
    const ready = act.collect('act.step.ready');
    const requests = await Promise.all(Array.from({ length: 5 }, () => create('fan_out', { payload: { kind: 'full' } })));
    await Promise.all(
      requests.flatMap((r) => ['photos', 'records'].map((stepId) => outbox.transaction((tx, emit) => workflow.onEvents([completion(r.id, stepId)], tx, emit)))),
    );
    for (const r of requests) {
      await waitForStep(r.id, 'decide', (s) => s.status === 'ready');
      await eventually(() => expect(ready.forRequest(r.id).map((e) => e.data.stepId).sort()).toEqual(['decide', 'photos', 'records']));
    }
  });

  it('moves many requests in one batch of completions, joins and ends included, and ignores a second completion of a step done earlier in it', async () => {
    // One consumer batch: the steps are read once and written set-based at its end, so an event
    // later in the batch must see what an earlier one changed in memory.
    await act.call('act.plan.register', { definition: { id: 'one_step', output: '{"done": steps.work.output.done}', steps: [{ id: 'work', pool: 'q' }] } });
    const workflow = act.app.get(WorkflowService);
    const outbox = act.app.get(EventOutbox);
    const ready = act.collect('act.step.ready');
    const completedEvents = act.collect('act.request.completed');
    const joins = await Promise.all(Array.from({ length: 3 }, () => create('fan_out', { payload: { kind: 'full' } })));
    const singles = await Promise.all(Array.from({ length: 3 }, () => create('one_step')));
    const batch = [
      ...joins.flatMap((r) => [completion(r.id, 'photos'), completion(r.id, 'records', {}, 2)]),
      ...singles.map((r, i) => completion(r.id, 'work', { done: i })),
      // A late duplicate from OMS (another task of a step already done by this batch): ignored.
      completion(joins[0]!.id, 'photos', { late: true }, 3),
      completion(singles[0]!.id, 'work', { done: 'again' }),
    ];
    await outbox.transaction((tx, emit) => workflow.onEvents(batch, tx, emit));

    for (const r of joins) {
      const view = await waitForStep(r.id, 'decide', (s) => s.status === 'ready');
      const step = (id: string) => view.steps.find((s) => s.stepId === id)!;
      expect([step('photos').status, step('records').status, step('records').attempts]).toEqual(['done', 'done', 2]);
      expect(step('photos').output).toEqual({});
      expect(view.status).toBe('running');
      await eventually(() => expect(ready.forRequest(r.id).map((e) => e.data.stepId).sort()).toEqual(['decide', 'photos', 'records']));
    }
    for (const [i, r] of singles.entries()) {
      const view = await waitForStatus(r.id, 'completed');
      expect(view.result).toEqual({ done: i });
      expect(view.completedAt).not.toBeNull();
      await eventually(() => expect(completedEvents.forRequest(r.id)).toHaveLength(1));
    }
  });

  it('fails a request whose when cannot be evaluated', async () => {
    const request = await create('fan_out', { payload: {} });
    await complete(request.id, 'photos', {});
    await complete(request.id, 'records', {});
    const view = await waitForStatus(request.id, 'failed');
    expect(view.steps.map((s) => s.status)).toEqual(['done', 'done', 'failed', 'cancelled']);
    expect(view.details).toMatchObject({ stepId: 'decide', reason: expect.stringMatching(/^the when of step 'decide' could not be evaluated/) });
  });

  it("passes an earlier step's output to the next task through input:, and ends with the plan's output as the result", async () => {
    const ready = act.collect('act.step.ready');
    const request = await create('data_flow', { payload: { ticket: 'T-1', audit: false } });
    expect((await get(request.id)).result).toBeNull();
    await complete(request.id, 'extract', { confidence: 0.5, passport_no: '987654321' });
    const verify = await ready.waitFor((e) => e.requestId === request.id && e.data.stepId === 'verify');
    expect(verify.data.input).toEqual({ passportNo: '987654321', ticket: 'T-1' });
    await complete(request.id, 'verify', { approved: true, passportNo: '987654321' });
    const done = await waitForStatus(request.id, 'completed');
    expect(done.result).toEqual({ passportNo: '987654321', approved: true, ticket: 'T-1' });
  });

  it('fails the step and the request with the reason when an input cannot be evaluated, emitting no ready step', async () => {
    const ready = act.collect('act.step.ready');
    const failed = act.collect('act.request.failed');
    const request = await create('data_flow', { payload: { ticket: 'T-2', audit: true } });
    await complete(request.id, 'extract', { passport_no: '1' });
    await waitForStep(request.id, 'verify', (s) => s.status === 'ready');
    await complete(request.id, 'verify', { approved: true, passportNo: '1' });
    const view = await waitForStatus(request.id, 'failed');
    expect(view.steps.map((s) => s.status)).toEqual(['done', 'done', 'failed']);
    expect(view.details.reason).toMatch(/^the input of step 'audit' 'bad' could not be evaluated: /);
    expect(await failed.waitFor((e) => e.requestId === request.id)).toMatchObject({ data: { stepId: 'audit', reason: view.details.reason } });
    expect(ready.forRequest(request.id).map((e) => e.data.stepId)).toEqual(['extract', 'verify']);
  });

  it('handles a redelivered event once', async () => {
    const ready = act.collect('act.step.ready');
    const request = await create('disaster_voucher');
    const id = randomUUID();
    const event = await act.publish('oms.task.completed', request.id, { taskId: randomUUID(), stepId: 'verify_income', pool: 'q', worker: 'w', leaseId: 'l', attempt: 1, output: {} }, { id });
    // Same event id under another message id: past JetStream's de-duplication, so the consumer must catch it.
    const oms = await act.busOf('oms');
    await oms.jetstream.publish(oms.subject(EventStream.subjectOf('oms.task.completed')), JSON.stringify(event), { msgID: randomUUID() });
    await waitForStep(request.id, 'inspect', (s) => s.status === 'ready');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(ready.forRequest(request.id).map((e) => e.data.stepId)).toEqual(['verify_income', 'inspect']);
    expect((await get(request.id)).status).toBe('running');
  });

  it('cancels a running request and its open steps, and refuses to cancel it again', async () => {
    const cancelled = act.collect('act.request.cancelled');
    const request = await create('disaster_voucher');
    const summary = await act.call('act.request.cancel', { id: request.id, reason: 'citizen withdrew' });
    expect(summary).toMatchObject({ id: request.id, status: 'cancelled', completedAt: expect.any(String) });
    const view = await get(request.id);
    expect(view.steps.map((s) => s.status)).toEqual(['cancelled', 'cancelled', 'cancelled']);
    expect(await cancelled.waitFor((e) => e.requestId === request.id)).toMatchObject({ actor: 'manager@hms', data: { plan: 'disaster_voucher', reason: 'citizen withdrew' } });

    const again = await rpcError(act.call('act.request.cancel', { id: request.id }));
    expect([again.code, again.message]).toEqual(['CONFLICT', `Request '${request.id}' is already cancelled`]);
    expect((await rpcError(act.call('act.request.cancel', { id: randomUUID() }))).code).toBe('NOT_FOUND');
    expect((await rpcError(act.call('act.request.cancel', { id: 'not-a-uuid' }))).code).toBe('NOT_FOUND');

    await complete(request.id, 'verify_income', {});
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await get(request.id)).steps.map((s) => s.status)).toEqual(['cancelled', 'cancelled', 'cancelled']);
  });

  it('refuses to cancel a finished request', async () => {
    const request = await create('passport_renewal');
    await complete(request.id, 'ai_extract', { confidence: 0.99 });
    await waitForStep(request.id, 'external_print', (s) => s.status === 'ready');
    await complete(request.id, 'external_print', {});
    await waitForStatus(request.id, 'completed');
    const error = await rpcError(act.call('act.request.cancel', { id: request.id, reason: 'too late' }));
    expect([error.code, error.message]).toEqual(['CONFLICT', `Request '${request.id}' is already completed`]);
  });

  it('returns the same request for a repeated idempotency key and refuses the key with another body', async () => {
    const key = `idem-${randomUUID()}`;
    const body = { plan: 'pothole_repair', payload: { street: 'Elm' }, reference: 'PH-1', idempotencyKey: key };
    const first = await act.call('act.request.create', body);
    const second = await act.call('act.request.create', body);
    expect(first.created).toBe(true);
    expect(second).toEqual({ request: first.request, created: false });
    const mismatch = await rpcError(act.call('act.request.create', { ...body, payload: { street: 'Oak' } }));
    expect(mismatch.code).toBe('IDEMPOTENCY_MISMATCH');
    const { items } = await act.call('act.request.list', { reference: 'PH-1' });
    expect(items.map((r) => r.id)).toEqual([first.request.id]);
  });

  it('refuses a key held by another body as IDEMPOTENCY_MISMATCH before anything else is wrong with the repeat (an unknown plan, an unknown version)', async () => {
    // A create is written first and the key read only when it fails or inserts nothing: the
    // answer is still the one a lookup first gave.
    const key = `idem-first-${randomUUID()}`;
    const first = await act.call('act.request.create', { plan: 'pothole_repair', payload: {}, idempotencyKey: key });
    expect((await rpcError(act.call('act.request.create', { plan: 'no_such_plan', payload: {}, idempotencyKey: key }))).code).toBe('IDEMPOTENCY_MISMATCH');
    expect((await rpcError(act.call('act.request.create', { plan: 'pothole_repair', version: 99, payload: {}, idempotencyKey: key }))).code).toBe('IDEMPOTENCY_MISMATCH');
    expect(await act.call('act.request.create', { plan: 'pothole_repair', payload: {}, idempotencyKey: key })).toEqual({ request: first.request, created: false });
  });

  it('creates with the latest version even when another replica registered it after this one last resolved the plan', async () => {
    const plan = `replicated_${randomUUID().slice(0, 8)}`;
    await act.call('act.plan.register', { definition: { id: plan, steps: [{ id: 'old_step', pool: 'q' }] } });
    expect((await create(plan)).version).toBe(1); // this replica now knows version 1 as the latest
    // Version 2 as another replica registers it: a row in act.plans this process has not seen.
    const v2 = { id: plan, steps: [{ id: 'new_step', pool: 'q' }] };
    await act.sql(`INSERT INTO act.plans (id, version, title, definition, content_hash, created_at, created_by) VALUES ($1, 2, NULL, $2, 'other-replica', now(), 'manager@hms')`, [
      plan,
      JSON.stringify(v2),
    ]);
    const request = await create(plan);
    expect(request.version).toBe(2);
    expect((await get(request.id)).steps.map((step) => step.stepId)).toEqual(['new_step']);
    // The stale try wrote nothing: one request of the plan per create, none of version 1 since.
    const rows = await act.sql<{ version: number; n: number }>(`SELECT plan_version AS version, count(*)::int AS n FROM act.requests WHERE plan = $1 GROUP BY 1 ORDER BY 1`, [plan]);
    expect(rows).toEqual([{ version: 1, n: 1 }, { version: 2, n: 1 }]);
  });

  it("scopes idempotency keys by caller: another caller's same key makes its own request and learns nothing", async () => {
    const key = `shared-${randomUUID()}`;
    const alice = { id: 'alice-service', roles: ['service' as const] };
    const bob = { id: 'bob-service', roles: ['service' as const] };
    const mine = await act.call('act.request.create', { plan: 'pothole_repair', payload: { street: 'Elm' }, idempotencyKey: key }, alice);
    // The same key with another body is not a mismatch for Bob (it was not his key), and he does not get Alice's request.
    const theirs = await act.call('act.request.create', { plan: 'pothole_repair', payload: { street: 'Oak' }, idempotencyKey: key }, bob);
    expect(theirs.created).toBe(true);
    expect(theirs.request.id).not.toBe(mine.request.id);
    // Each caller's key still guards its own requests.
    expect((await rpcError(act.call('act.request.create', { plan: 'pothole_repair', payload: { street: 'Elm' }, idempotencyKey: key }, bob))).code).toBe('IDEMPOTENCY_MISMATCH');
    expect(await act.call('act.request.create', { plan: 'pothole_repair', payload: { street: 'Elm' }, idempotencyKey: key }, alice)).toEqual({ request: mine.request, created: false });
  });

  it('creates one request when the same idempotency key races', async () => {
    const body = { plan: 'pothole_repair', payload: {}, idempotencyKey: `race-${randomUUID()}` };
    const results = await Promise.all(Array.from({ length: 6 }, () => act.call('act.request.create', body)));
    expect(new Set(results.map((r) => r.request.id)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
  });

  it('uses a given plan version and its SLA, or the command SLA', async () => {
    await act.call('act.plan.register', { definition: { id: 'versioned', slaMinutes: 60, steps: [{ id: 'a', pool: 'q' }] } });
    await act.call('act.plan.register', { definition: { id: 'versioned', slaMinutes: 120, steps: [{ id: 'a', pool: 'q' }] } });
    const old = (await act.call('act.request.create', { plan: 'versioned', version: 1 })).request;
    expect(old.version).toBe(1);
    expect(new Date(old.slaDueAt!).getTime() - new Date(old.createdAt).getTime()).toBe(60 * 60_000);
    const latest = (await act.call('act.request.create', { plan: 'versioned', slaMinutes: 5 })).request;
    expect(latest.version).toBe(2);
    expect(new Date(latest.slaDueAt!).getTime() - new Date(latest.createdAt).getTime()).toBe(5 * 60_000);
    await act.call('act.plan.register', { definition: { id: 'no_sla', steps: [{ id: 'a', pool: 'q' }] } });
    expect((await act.call('act.request.create', { plan: 'no_sla' })).request.slaDueAt).toBeNull();
  });

  it('answers NOT_FOUND for unknown plans, versions and requests', async () => {
    expect((await rpcError(act.call('act.request.create', { plan: 'nope' }))).code).toBe('NOT_FOUND');
    expect((await rpcError(act.call('act.request.create', { plan: 'pothole_repair', version: 42 }))).code).toBe('NOT_FOUND');
    expect((await rpcError(get(randomUUID()))).code).toBe('NOT_FOUND');
    expect((await rpcError(get('123'))).code).toBe('NOT_FOUND');
  });

  it('validates the create message', async () => {
    const error = await rpcError(act.call('act.request.create', { plan: '', priority: 1.5, payload: 'x' } as never));
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.details?.map((d) => d.path).sort()).toEqual(['payload', 'plan', 'priority']);
  });

  it('lists requests newest first with filters and a cursor', async () => {
    await act.call('act.plan.register', { definition: { id: 'listed', steps: [{ id: 'a', pool: 'q' }] } });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await act.call('act.request.create', { plan: 'listed', reference: i % 2 === 0 ? 'even' : 'odd' })).request.id);
    await act.call('act.request.cancel', { id: ids[4] });

    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await act.call('act.request.list', { plan: 'listed', limit: 2, ...(cursor ? { cursor } : {}) });
      pages.push(page.items.map((r) => r.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(pages).toEqual([
      [ids[4], ids[3]],
      [ids[2], ids[1]],
      [ids[0]],
    ]);
    expect((await act.call('act.request.list', { plan: 'listed', reference: 'even' })).items.map((r) => r.id)).toEqual([ids[4], ids[2], ids[0]]);
    expect((await act.call('act.request.list', { plan: 'listed', status: 'cancelled' })).items.map((r) => r.id)).toEqual([ids[4]]);
    expect((await act.call('act.request.list', { plan: 'listed', status: 'running', reference: 'odd' })).items.map((r) => r.id)).toEqual([ids[3], ids[1]]);
    expect((await rpcError(act.call('act.request.list', { cursor: 'garbage' }))).code).toBe('VALIDATION_FAILED');
    expect((await rpcError(act.call('act.request.list', { status: 'weird' } as never))).code).toBe('VALIDATION_FAILED');
  });
});
