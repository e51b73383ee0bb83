import { parse } from 'yaml';
import { HmsClient, Pool, type PoolWorker, type WorkItem } from '@hms/client';
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
      verifier = new Pool('human_verify', await client(['human_verify'], 'vera@state.gov')).login('vera@state.gov');
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

      const history = await expectValidHistory(manager, created.id, 'act.request.completed');
      const types = history.map((e) => e.type);
      expect(types.filter((t) => t === 'act.step.skipped')).toHaveLength(1);
      expect(history.find((e) => e.type === 'act.step.skipped')?.data).toMatchObject({ stepId: 'human_verify' });
      expect(types.filter((t) => t === 'oms.task.completed')).toHaveLength(2);
      expect(history.filter((e) => e.type === 'oms.task.completed').map((e) => e.actor)).not.toContain('vera@state.gov');
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
