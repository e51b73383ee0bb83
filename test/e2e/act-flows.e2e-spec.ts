import { parse } from 'yaml';
import { HmsApiError, HmsClient, Pool, type PoolWorker, type WorkItem } from '@hms/client';
import type { LedgerEntryView, PlanDefinition, RequestView } from '@hms/contracts';
import { examplePlan, ledgerThrough, startE2eStack } from './support/e2e-stack';

/** Long-polls until the worker gets a task, or fails the test after `timeoutMs`. */
async function leaseOne(worker: PoolWorker, timeoutMs = 30_000): Promise<WorkItem> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const task = await worker.nextTask({ waitSeconds: 2 });
    if (task) return task;
  }
  throw new Error(`no task in pool ${worker.pool} within ${timeoutMs} ms`);
}

/** Polls the request until `test` holds for it. */
async function waitUntil(manager: HmsClient, id: string, test: (request: RequestView) => boolean, timeoutMs = 30_000): Promise<RequestView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const request = await manager.requests.get(id);
    if (test(request)) return request;
    if (Date.now() > deadline) throw new Error(`request ${id} did not get there in time: ${JSON.stringify(request.steps)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The chain is complete, linked and verified by the server. */
async function expectValidHistory(manager: HmsClient, id: string, last: string): Promise<LedgerEntryView[]> {
  const history = await ledgerThrough(manager, id, last);
  const types = history.map((e) => e.type);
  expect(types[0]).toBe('act.request.created');
  expect(types[types.length - 1]).toBe(last);
  expect(history.map((e) => e.seq)).toEqual(history.map((_, i) => i + 1));
  expect(history.every((e, i) => i === 0 || e.prevHash === history[i - 1].hash)).toBe(true);
  await expect(manager.requests.verify(id)).resolves.toMatchObject({ valid: true, entries: history.length });
  return history;
}

const stepStates = (request: RequestView) => request.steps.map((s) => [s.stepId, s.status]);

/**
 * The ACT workflow features through the gateway with the SDK: `when` conditions (a step run or
 * skipped by an earlier step's output), approvals (approved goes on, rejected ends the request),
 * retries of an optional step after a retryable failure, and the plan's request SLA.
 */
describe('ACT flows through the gateway', () => {
  let env: Awaited<ReturnType<typeof startE2eStack>>;

  beforeAll(async () => {
    env = await startE2eStack('e2e_act_flows');
  });

  afterAll(async () => {
    await env?.dispose();
  });

  describe('passport renewal', () => {
    // The example plan's external_print retries after 300 s (backoffSeconds: 300, factor 2), far
    // too long for a test. So the test registers a JSON copy of the example under another id with
    // only that step's retry changed to a 1 s backoff; every other part of the plan is the example's.
    const PLAN = 'passport_renewal_fast_retry';
    let ai: PoolWorker;
    let verifier: PoolWorker;
    let printer: PoolWorker;
    let vera: HmsClient;

    beforeAll(async () => {
      const { stack, manager } = env;
      await expect(manager.plans.register(examplePlan('passport-renewal.plan.yaml'))).resolves.toMatchObject({ id: 'passport_renewal', created: true });
      const example = (await manager.plans.get('passport_renewal')).definition;
      expect(example.steps.find((s) => s.id === 'external_print')?.retry).toMatchObject({ backoffSeconds: 300 });

      const copy = parse(examplePlan('passport-renewal.plan.yaml')) as PlanDefinition;
      copy.id = PLAN;
      const print = copy.steps.find((s) => s.id === 'external_print')!;
      print.retry = { attempts: 5, backoffSeconds: 1, backoffFactor: 1, maxBackoffSeconds: 2 };
      await expect(manager.plans.register(copy)).resolves.toMatchObject({ id: PLAN, version: 1, created: true });

      const client = async (pools: string[], sub: string) => new HmsClient({ baseUrl: stack.gatewayUrl, token: await stack.workerToken(pools, sub) });
      ai = new Pool('ai_extract', await client(['ai_extract'], 'ocr-bot')).login('ocr-bot', { tags: ['ocr'] });
      vera = await client(['human_verify'], 'vera@state.gov');
      verifier = new Pool('human_verify', vera).login('vera@state.gov');
      printer = new Pool('external_print', await client(['external_print'], 'print-shop')).login('print-shop');
    });

    it('sends a low-confidence extraction to a person, retries a failed print and completes', async () => {
      const { manager } = env;
      const created = await manager.requests.create({ plan: PLAN, payload: { passport: 'X1234567', name: 'Ada' }, reference: 'passport-low' });
      expect(created.status).toBe('running');

      const extract = await leaseOne(ai);
      expect(extract).toMatchObject({ requestId: created.id, stepId: 'ai_extract', attempt: 1 });
      expect(extract.payload).toMatchObject({ passport: 'X1234567' });
      await extract.complete({ confidence: 0.42, surname: 'Lovelace' });

      // confidence < 0.9: the `when` holds, so a person gets the check.
      const verify = await leaseOne(verifier);
      expect(verify).toMatchObject({ requestId: created.id, stepId: 'human_verify' });
      // The clerk's task carries what the bot extracted (the plan's input:), to check it against the application.
      expect(verify.input).toEqual({ extracted: { confidence: 0.42, surname: 'Lovelace' }, application: { passport: 'X1234567', name: 'Ada' } });
      // The clerk may read the task it holds, and only that one.
      expect(await vera.tasks.get(verify.id)).toMatchObject({ id: verify.id, worker: 'vera@state.gov', input: verify.input });
      expect(await vera.tasks.get(extract.id).catch((e: unknown) => e)).toMatchObject({ status: 403, code: 'FORBIDDEN' });
      expect((await manager.requests.get(created.id)).result).toBeNull();
      const midway = await manager.requests.get(created.id);
      expect(midway.steps.find((s) => s.stepId === 'ai_extract')).toMatchObject({ status: 'done', output: { confidence: 0.42 } });
      expect(midway.steps.find((s) => s.stepId === 'human_verify')?.status).toBe('ready');
      expect(midway.steps.find((s) => s.stepId === 'external_print')?.status).toBe('pending');
      await verify.complete({ approved: true });

      // The print shop fails once (retryably), then the retry after the backoff succeeds.
      const firstPrint = await leaseOne(printer);
      expect(firstPrint).toMatchObject({ requestId: created.id, stepId: 'external_print', attempt: 1 });
      await firstPrint.fail(new Error('printer jammed'), { retryable: true });
      const secondPrint = await leaseOne(printer);
      expect(secondPrint).toMatchObject({ id: firstPrint.id, requestId: created.id, stepId: 'external_print', attempt: 2 });
      await secondPrint.complete({ tracking: 'PRN-1' });

      const finished = await manager.requests.waitFor(created.id, { timeoutMs: 30_000, intervalMs: 200 });
      expect(finished.status).toBe('completed');
      expect(stepStates(finished)).toEqual([
        ['ai_extract', 'done'],
        ['human_verify', 'done'],
        ['external_print', 'done'],
      ]);
      expect(finished.steps.find((s) => s.stepId === 'human_verify')?.output).toEqual({ approved: true });
      expect(finished.steps.find((s) => s.stepId === 'external_print')?.output).toEqual({ tracking: 'PRN-1' });
      // The clerk's approval and the print end the request with the plan's output as its result.
      expect(finished.result).toEqual({ passport: { confidence: 0.42, surname: 'Lovelace' }, checkedByClerk: true, printed: true });
      expect(finished.details).toEqual({ reason: null, stepId: null, escalations: [] });

      const history = await expectValidHistory(manager, created.id, 'act.request.completed');
      const types = history.map((e) => e.type);
      expect(types).not.toContain('act.step.skipped');
      expect(types.filter((t) => t === 'oms.task.failed')).toHaveLength(1);
      expect(types.filter((t) => t === 'oms.task.completed')).toHaveLength(3);
      // The failure is chained before the successful retry.
      expect(types.indexOf('oms.task.failed')).toBeLessThan(types.lastIndexOf('oms.task.completed'));
      const completions = history.filter((e) => e.type === 'oms.task.completed').map((e) => e.actor);
      expect(completions).toEqual(expect.arrayContaining(['ocr-bot', 'vera@state.gov', 'print-shop']));
    });

    it('skips the human check when the extraction is confident and goes straight to printing', async () => {
      const { manager } = env;
      const created = await manager.requests.create({ plan: PLAN, payload: { passport: 'Y7654321', name: 'Grace' }, reference: 'passport-high' });

      const extract = await leaseOne(ai);
      expect(extract).toMatchObject({ requestId: created.id, stepId: 'ai_extract' });
      await extract.complete({ confidence: 0.97 });

      // The print task follows at once; the person was never asked.
      const print = await leaseOne(printer);
      expect(print).toMatchObject({ requestId: created.id, stepId: 'external_print', attempt: 1 });
      const midway = await manager.requests.get(created.id);
      expect(midway.steps.find((s) => s.stepId === 'human_verify')).toMatchObject({ status: 'skipped', taskId: null });
      expect((await manager.pools.peek('human_verify')).depth).toBe(0);
      await print.complete({ tracking: 'PRN-2' });

      const finished = await manager.requests.waitFor(created.id, { timeoutMs: 30_000, intervalMs: 200 });
      expect(finished.status).toBe('completed');
      expect(stepStates(finished)).toEqual([
        ['ai_extract', 'done'],
        ['human_verify', 'skipped'],
        ['external_print', 'done'],
      ]);
      expect(finished.result).toEqual({ passport: { confidence: 0.97 }, checkedByClerk: false, printed: true });

      const history = await expectValidHistory(manager, created.id, 'act.request.completed');
      const types = history.map((e) => e.type);
      expect(types.filter((t) => t === 'act.step.skipped')).toHaveLength(1);
      expect(history.find((e) => e.type === 'act.step.skipped')?.data).toMatchObject({ stepId: 'human_verify' });
      expect(types.filter((t) => t === 'oms.task.completed')).toHaveLength(2);
      expect(history.filter((e) => e.type === 'oms.task.completed').map((e) => e.actor)).not.toContain('vera@state.gov');
    });
  });

  describe('data between steps', () => {
    it('joins two branches into a task that sees both outputs, and ends with the outputs of the last step', async () => {
      const { stack, manager } = env;
      await manager.plans.register({
        id: 'join_flow',
        steps: [
          { id: 'photos', pool: 'join_clerks', after: [] },
          { id: 'records', pool: 'join_clerks', after: [] },
          { id: 'decide', pool: 'join_clerks', after: ['photos', 'records'] },
        ],
      });
      const clerk = new Pool('join_clerks', new HmsClient({ baseUrl: stack.gatewayUrl, token: await stack.workerToken(['join_clerks'], 'jo') })).login('jo');
      const created = await manager.requests.create({ plan: 'join_flow', payload: { file: 'F-9' } });
      const first = await leaseOne(clerk);
      const second = await leaseOne(clerk);
      const outputs: Record<string, Record<string, unknown>> = { photos: { shots: 3 }, records: { found: true } };
      await first.complete(outputs[first.stepId]);
      await second.complete(outputs[second.stepId]);

      const decide = await leaseOne(clerk);
      expect(decide).toMatchObject({ requestId: created.id, stepId: 'decide' });
      expect(decide.input).toEqual({ payload: { file: 'F-9' }, steps: { photos: { output: { shots: 3 } }, records: { output: { found: true } } } });
      await decide.complete({ granted: true });
      const finished = await manager.requests.waitFor(created.id, { timeoutMs: 30_000, intervalMs: 200 });
      expect(finished).toMatchObject({ status: 'completed', result: { decide: { granted: true } } });
    });

    it('answers 400 with the path for bad input and output expressions', async () => {
      const error = await env.manager.plans
        .register({
          id: 'bad_data_flow',
          output: 'steps.ghost.output',
          steps: [
            { id: 'a', pool: 'clerks', input: { later: 'steps.b.output' } },
            { id: 'b', pool: 'clerks', input: { broken: 'steps.a.output.', n: 5 as unknown as string } },
          ],
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HmsApiError);
      expect(error).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
      expect((error as HmsApiError).details).toEqual(
        expect.arrayContaining([
          { path: 'steps[1].input.n', message: 'must be a string' },
          { path: 'steps[0].input.later', message: "refers to step 'b', which does not run before this step (add it to after)" },
          { path: 'steps[1].input.broken', message: expect.stringMatching(/^is not a valid CEL expression/) },
          { path: 'output', message: "refers to unknown step 'ghost'" },
        ]),
      );
      expect((error as HmsApiError).details).toHaveLength(4);
    });
  });

  describe('pothole repair', () => {
    it('has the 48 h SLA and ends rejected when the supervisor says no, without running the rest', async () => {
      const { stack, manager } = env;
      await expect(manager.plans.register(examplePlan('pothole-repair.plan.yaml'))).resolves.toMatchObject({ id: 'pothole_repair', created: true });
      const client = async (pools: string[], sub: string) => new HmsClient({ baseUrl: stack.gatewayUrl, token: await stack.workerToken(pools, sub) });
      const dispatch = new Pool('public_works_dispatch', await client(['public_works_dispatch'], 'dispatch@city.gov')).login('dispatch@city.gov');
      const supervisor = new Pool('public_works_supervisors', await client(['public_works_supervisors'], 'sam@city.gov')).login('sam@city.gov');

      const created = await manager.requests.create({ plan: 'pothole_repair', payload: { street: 'Elm St 12' }, reference: 'pothole-1' });
      expect(created.slaDueAt).not.toBeNull();
      const slaMs = Date.parse(created.slaDueAt!) - Date.parse(created.createdAt);
      expect(Math.abs(slaMs - 2880 * 60_000)).toBeLessThanOrEqual(1000);

      const triage = await leaseOne(dispatch);
      expect(triage).toMatchObject({ requestId: created.id, stepId: 'triage' });
      await triage.complete({ severity: 'high' });

      const approval = await leaseOne(supervisor);
      expect(approval).toMatchObject({ requestId: created.id, stepId: 'approve_repair' });
      await approval.complete({ approved: false, reason: 'road is scheduled for resurfacing' });

      const finished = await manager.requests.waitFor(created.id, { timeoutMs: 30_000, intervalMs: 200 });
      expect(finished.status).toBe('rejected');
      expect(stepStates(finished)).toEqual([
        ['triage', 'done'],
        ['approve_repair', 'done'],
        ['repair', 'cancelled'],
        ['notify_citizen', 'cancelled'],
      ]);
      expect(finished.steps.filter((s) => s.stepId === 'repair' || s.stepId === 'notify_citizen').every((s) => s.taskId === null)).toBe(true);
      // No task was ever queued for the road crew or the notifier.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect((await manager.pools.peek('road_crews').catch(() => ({ depth: 0 }))).depth).toBe(0);
      expect((await manager.pools.peek('notifications').catch(() => ({ depth: 0 }))).depth).toBe(0);
      expect((await manager.tasks.list({ requestId: created.id })).items.map((t) => t.stepId).sort()).toEqual(['approve_repair', 'triage']);

      const history = await expectValidHistory(manager, created.id, 'act.request.rejected');
      const readySteps = history.filter((e) => e.type === 'act.step.ready').map((e) => (e.data as { stepId?: string }).stepId);
      expect(readySteps).toEqual(['triage', 'approve_repair']);
    });
  });
});
