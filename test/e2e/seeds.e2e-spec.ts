import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HmsApiError, HmsClient, Pool } from '@hms/client';
import { FixedLimits, SLUG_PATTERN } from '@hms/contracts';
import { repoRoot } from '@hms/testing';
import { startE2eStack, waitUntil, workPool } from './support/e2e-stack';
import { runScript, ScriptProcess } from './support/scripts';

const seeds = join(repoRoot(), 'examples', 'seeds');
const seedText = (file: string) => readFileSync(join(seeds, file), 'utf8');

/**
 * The seed chapters, tried as a new user would with the chapter open: their plan files register
 * unchanged and run, and their SDK snippets run as printed against the real stack.
 */
describe('The seed chapters', () => {
  let env: Awaited<ReturnType<typeof startE2eStack>>;

  beforeAll(async () => {
    env = await startE2eStack('e2e_seeds');
  });

  afterAll(async () => {
    await env?.dispose();
  });

  /** Leases the next task of `pool` as a worker of that pool (its token's subject) and completes it. */
  async function workOne(pool: string, output: Record<string, unknown> = {}): Promise<string> {
    const sub = `${pool}-worker`;
    const client = new HmsClient({ baseUrl: env.stack.gatewayUrl, token: await env.stack.workerToken([pool], sub) });
    const task = await new Pool(pool, client).login(sub).nextTask({ waitSeconds: 20 });
    if (!task) throw new Error(`no task came in ${pool}`);
    await task.complete(output);
    return task.stepId;
  }

  async function post(path: string, body: string, contentType = 'application/json') {
    const response = await fetch(`${env.stack.gatewayUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': contentType, authorization: `Bearer ${env.stack.managerToken}` },
      body,
    });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  }

  describe('plan files', () => {
    it('registers passport.plan.yaml (chapter 004) unchanged, shows it canonical, and runs it', async () => {
      const registered = await post('/v1/plans', seedText('passport.plan.yaml'), 'application/yaml');
      expect(registered).toEqual({ status: 201, body: { id: 'passport_renewal', version: 1 } });
      expect((await env.manager.plans.get('passport_renewal')).definition).toEqual({
        id: 'passport_renewal',
        defaults: { retry: { attempts: 3, backoffSeconds: 30 } },
        steps: [
          { id: 'ai_extract', pool: 'ai_extract' },
          { id: 'human_verify', pool: 'human_verify' },
          { id: 'external_print', pool: 'external_print' },
        ],
      });
      expect((await post('/v1/plans', seedText('passport.plan.yaml'), 'application/yaml')).status).toBe(200);

      const request = await env.manager.requests.create({ plan: 'passport_renewal', payload: { reference: 'jazmin' } });
      const order = [];
      for (const lane of ['ai_extract', 'human_verify', 'external_print']) order.push(await workOne(lane));
      expect(order).toEqual(['ai_extract', 'human_verify', 'external_print']);
      expect((await env.manager.requests.waitFor(request.id, { timeoutMs: 20_000, intervalMs: 200 })).status).toBe('completed');
    });

    it('registers repairWorkflow.json (chapter 003) under the id given beside it, and runs it', async () => {
      const workflow = seedText('repairWorkflow.json');
      const withoutId = await post('/v1/plans', workflow);
      expect(withoutId.status).toBe(400);
      expect(withoutId.body.error.details).toEqual([{ path: 'id', message: 'is required' }]);

      expect(await post('/v1/plans?id=pothole_repair', workflow)).toEqual({ status: 201, body: { id: 'pothole_repair', version: 1 } });
      const plan = await env.manager.plans.get('pothole_repair');
      expect(plan.definition).toEqual({
        id: 'pothole_repair',
        slaMinutes: 2880,
        steps: [
          { id: 'assess_severity', title: 'assessSeverity', pool: 'severity_agent' },
          { id: 'human_approval', title: 'humanApproval', pool: 'supervisor' },
          { id: 'assign_crew', title: 'assignCrew', pool: 'crew_scheduler' },
          { id: 'execute_repair', title: 'executeRepair', pool: 'repair_service' },
        ],
      });
      const other = await post('/v1/plans?id=pothole_repair&version=2', workflow);
      expect(other.status).toBe(400);
      expect(other.body.error.details).toEqual([{ path: 'version', message: "unknown query parameter 'version' (allowed: id)" }]);

      const request = await env.manager.requests.create({ plan: 'pothole_repair', payload: { reportId: 'pothole-123' } });
      expect(Date.parse(request.slaDueAt!) - Date.parse(request.createdAt)).toBe(48 * 3600_000);
      for (const pool of ['severity_agent', 'supervisor', 'crew_scheduler', 'repair_service']) await workOne(pool);
      expect((await env.manager.requests.waitFor(request.id, { timeoutMs: 20_000, intervalMs: 200 })).status).toBe('completed');
    });

    it('starts the repair workflow inline, as ManagementLayer.start(workflow, {reportId}) does', async () => {
      const workflow = JSON.parse(seedText('repairWorkflow.json')) as Record<string, unknown>;
      const first = await env.manager.requests.create({ plan: workflow, payload: { reportId: 'pothole-124' } });
      expect(first.plan).toMatch(/^inline\.[0-9a-f]{16}$/);
      const again = await env.manager.requests.create({ plan: workflow, payload: { reportId: 'pothole-125' } });
      expect([again.plan, again.version]).toEqual([first.plan, first.version]);
      expect((await env.manager.plans.get(first.plan)).definition.steps.map((step) => step.pool)).toEqual(['severity_agent', 'supervisor', 'crew_scheduler', 'repair_service']);
      const view = await env.manager.requests.get(first.id);
      expect(view.steps.map((step) => [step.stepId, step.status])).toEqual([
        ['assess_severity', 'ready'],
        ['human_approval', 'pending'],
        ['assign_crew', 'pending'],
        ['execute_repair', 'pending'],
      ]);

      const broken = await env.manager.requests.create({ plan: { ...workflow, slaHours: 'two days' }, payload: {} }).catch((error: unknown) => error);
      expect(broken).toBeInstanceOf(HmsApiError);
      expect((broken as HmsApiError).details).toEqual([{ path: 'plan.slaHours', message: 'must be a number' }]);
      const named = await post('/v1/requests', JSON.stringify({ plan: { ...workflow, id: 'pothole_repair' } }));
      expect(named.status).toBe(400);
      expect(named.body.error.details[0].path).toBe('plan.id');
      const withVersion = await post('/v1/requests', JSON.stringify({ plan: workflow, version: 1 }));
      expect(withVersion.status).toBe(400);
      expect(withVersion.body.error.details).toEqual([{ path: 'version', message: 'must be absent when the plan is given inline' }]);
      const notAPlan = await post('/v1/requests', JSON.stringify({ plan: ['a'] }));
      expect(notAPlan.status).toBe(400);
      expect(notAPlan.body.error.details[0].path).toBe('plan');
    });

    it("runs the chapter's main.js: ManagementLayer.start(workflow, {reportId}) follows the inline workflow to its result", async () => {
      const { stack } = env;
      const main = new ScriptProcess(process.execPath, [join(seeds, 'main.js')], { cwd: seeds, env: { HMS_URL: stack.gatewayUrl, HMS_TOKEN: stack.serviceToken } });
      let ended = false;
      void main.exited.then(() => (ended = true));
      const crews = await Promise.all(
        ['severity_agent', 'supervisor', 'crew_scheduler', 'repair_service'].map(async (pool) =>
          workPool({ client: new HmsClient({ baseUrl: stack.gatewayUrl, token: await stack.workerToken([pool], `${pool}-crew`) }), pool, worker: `${pool}-crew`, output: () => ({}), until: () => ended }),
        ),
      );
      expect(await main.exited).toBe(0);
      expect(crews.every((crew) => crew.completed.length > 0)).toBe(true);
      // A step is done for good, so every one is reported, in order; a 'Waiting' line only when a poll caught the step ready.
      expect(main.stdout.filter((line) => line.includes(' passed: '))).toEqual([
        '[Orchestrator] Step 1 passed: assess_severity',
        '[Orchestrator] Step 2 passed: human_approval',
        '[Orchestrator] Step 3 passed: assign_crew',
        '[Orchestrator] Step 4 passed: execute_repair',
      ]);
      expect(main.stdout.join('\n')).toMatch(/Workflow Result: \{\n  status: 'completed',\n  details: \{\n    id: '[0-9a-f-]{36}',\n    plan: 'inline\.[0-9a-f]{16}',/);
    });

    it('registers ssa_re-score.yaml (chapter 002) with its schedule, queue, SLA and image, and runs it', async () => {
      expect(await post('/v1/plans', seedText('ssa_re-score.yaml'), 'application/yaml')).toEqual({ status: 201, body: { id: 'ssa_re_score', version: 1 } });
      expect((await env.manager.plans.get('ssa_re_score')).definition).toEqual({
        id: 'ssa_re_score',
        slaMinutes: 300,
        schedule: { cron: '0 0 * * *' },
        annotations: { image: 'usgov/ssa-worker:v1' },
        steps: [{ id: 'ssa_re_score_q', pool: 'ssa_re_score_q' }],
      });
      const request = await env.manager.requests.create({ plan: 'ssa_re_score' });
      expect(Date.parse(request.slaDueAt!) - Date.parse(request.createdAt)).toBe(300 * 60_000);
      await workOne('ssa_re_score_q');
      expect((await env.manager.requests.waitFor(request.id, { timeoutMs: 20_000, intervalMs: 200 })).status).toBe('completed');
    });

    it('documents ?id= and the inline plan in the OpenAPI document', async () => {
      const document = (await (await fetch(`${env.stack.gatewayUrl}/docs/openapi.json`)).json()) as Record<string, any>;
      // The plan id of `?id=` is a query parameter of the route (RegisterPlanCommand is the message to ACT, not part of the HTTP contract).
      expect(document.paths['/v1/plans'].post.parameters).toEqual([
        expect.objectContaining({ name: 'id', in: 'query', required: false, schema: { type: 'string', pattern: SLUG_PATTERN.source, maxLength: FixedLimits.idLength } }),
      ]);
      expect(document.components.schemas.CreateRequestCommand.properties.plan).toEqual({
        oneOf: [{ type: 'string', minLength: 1, maxLength: 200 }, { $ref: '#/components/schemas/PlanDefinition' }],
      });
      expect(document.components.schemas.PlanDefinition.properties.annotations).toEqual({ type: 'object', additionalProperties: { type: 'string' } });
    });

    it('still refuses, naming it, a field that cannot be translated', async () => {
      const source = seedText('passport.plan.yaml').replace('backoff_sec: 30', 'backoff_min: 1');
      const refused = await post('/v1/plans', source, 'application/yaml');
      expect(refused.status).toBe(400);
      expect(refused.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: [{ path: 'retry_policy.backoff_min', message: expect.stringContaining("unknown field 'backoff_min'") }] });
    });
  });

  describe('SDK snippets (chapter 001), run as printed', () => {
    const node = (file: string, token: string) => runScript(process.execPath, [join(seeds, file)], { cwd: seeds, env: { HMS_URL: env.stack.gatewayUrl, HMS_TOKEN: token } });

    it('sets the queue SLA, launches a job, peeks at the queue, streams its metrics and works it with reserve()', async () => {
      const { stack, manager } = env;
      expect(await post('/v1/plans', seedText('farm-grant.plan.yaml'), 'application/yaml')).toMatchObject({ status: 201 });

      expect(await node('updateSLA.js', stack.managerToken)).toEqual(['✅ SLA updated to 5 min']);
      expect((await manager.pools.get('farm-grant')).slaMinutes).toBe(5);

      const launched = await node('launchJob.js', stack.serviceToken);
      expect(launched).toEqual([expect.stringMatching(/^🚜 Job ticket: [0-9a-f-]{36}$/)]);
      const jobId = launched[0].split(' ').pop()!;
      const job = await manager.requests.get(jobId);
      expect(job).toMatchObject({ plan: 'farm:grant:v1', payload: { appId: 219 }, status: 'running' });
      expect(Date.parse(job.slaDueAt!) - Date.parse(job.createdAt)).toBe(10 * 60_000);
      const [queued] = (await waitUntil(async () => { const head = await manager.pools.peek('farm-grant'); return head.depth === 1 && head; })).tasks;
      // The queue's 5-minute SLA (updateSLA.js) is due before the job's 10 minutes: the table shows the earlier.
      expect(Date.parse(queued.slaDueAt!)).toBeLessThan(Date.parse(job.slaDueAt!));

      const table = (await node('checkQueue.js', stack.managerToken)).join('\n');
      expect(table).toMatch(/│ \(index\) │ id +│ status +│ slaExpires +│/);
      expect(table).toContain(`│ 0       │ '${jobId}' │ 'waiting' │ '${queued.slaDueAt}' │`);

      const metrics = new ScriptProcess(process.execPath, [join(seeds, 'liveMetrics.js')], { cwd: seeds, env: { HMS_URL: stack.gatewayUrl, HMS_TOKEN: stack.managerToken } });
      try {
        expect(await metrics.waitForLine(/^📊 queue\.length /)).toBe('📊 queue.length 1');
        await metrics.waitForLine(/^📊 queue\.waitTime \d+/);
      } finally {
        await metrics.stop();
      }

      const failing = await manager.requests.create({ plan: 'farm:grant:v1', payload: { appId: 220, fail: true } });
      const worker = new ScriptProcess(process.execPath, [join(seeds, 'worker.js')], {
        cwd: seeds,
        env: { HMS_URL: stack.gatewayUrl, HMS_TOKEN: await stack.workerToken(['farm-grant'], 'farm-bot@usda.gov') },
      });
      try {
        const [done, failed] = await Promise.all([jobId, failing.id].map((id) => manager.requests.waitFor(id, { timeoutMs: 30_000, intervalMs: 200 })));
        expect(done.status).toBe('completed');
        expect(failed.status).toBe('failed');
        const failedTask = await manager.tasks.get(failed.steps[0].taskId!);
        expect(failedTask).toMatchObject({ lastError: { message: 'application 220 is incomplete' } });
      } finally {
        await worker.stop();
      }
      expect(worker.stderr).toEqual([]);
    });
  });
});
