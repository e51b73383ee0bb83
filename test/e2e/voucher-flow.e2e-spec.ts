import { HmsClient, HmsApiError } from '@hms/client';
import type { RequestView } from '@hms/contracts';
import { examplePlan, ledgerThrough, startE2eStack, waitUntil, workPool, type WorkLog } from './support/e2e-stack';
import { answerChecks, openApiContract } from './support/openapi-check';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const json = (response: Response): Promise<any> => response.json();

/**
 * The foundation scenario, as a user runs it: register the disaster-voucher plan, file three
 * requests, let two case-workers share the first pool with long-polling, and follow each request
 * through inspection and payment to `completed`, with an audit trail that verifies.
 */
describe('Disaster voucher flow through the gateway', () => {
  let env: Awaited<ReturnType<typeof startE2eStack>>;

  beforeAll(async () => {
    env = await startE2eStack('e2e_voucher');
  });

  afterAll(async () => {
    await env?.dispose();
  });

  it('runs three requests through three pools to completed, with a valid ledger per request', async () => {
    const { stack, manager } = env;
    const registered = await manager.plans.register(examplePlan('disaster-voucher.plan.yaml'));
    expect(registered).toMatchObject({ id: 'disaster_voucher', version: 1, created: true });
    const again = await manager.plans.register(examplePlan('disaster-voucher.plan.yaml'));
    expect(again).toMatchObject({ id: 'disaster_voucher', version: 1, created: false });

    // A worker token is its own worker: each case-worker has hers.
    const anaClient = new HmsClient({ baseUrl: stack.gatewayUrl, token: await stack.workerToken(['hud_case_workers'], 'ana@hud.gov') });
    const benClient = new HmsClient({ baseUrl: stack.gatewayUrl, token: await stack.workerToken(['hud_case_workers'], 'ben@hud.gov') });
    const inspectors = new HmsClient({ baseUrl: stack.gatewayUrl, token: await stack.workerToken(['fema_inspectors'], 'ivan@fema.gov') });
    const payBot = new HmsClient({ baseUrl: stack.gatewayUrl, token: await stack.workerToken(['payments'], 'pay-bot') });

    let done = false;
    const ana: WorkLog = { worker: 'ana@hud.gov', completed: [] };
    const ben: WorkLog = { worker: 'ben@hud.gov', completed: [] };
    const workers = [
      workPool({ client: anaClient, pool: 'hud_case_workers', worker: 'ana@hud.gov', tags: ['income_check'], output: () => ({ eligible: true }), until: () => done, log: ana }),
      workPool({ client: benClient, pool: 'hud_case_workers', worker: 'ben@hud.gov', tags: ['income_check'], output: () => ({ eligible: true }), until: () => done, log: ben }),
      workPool({ client: inspectors, pool: 'fema_inspectors', worker: 'ivan@fema.gov', output: () => ({ damage: 'roof' }), until: () => done }),
      workPool({ client: payBot, pool: 'payments', worker: 'pay-bot', output: (task) => ({ paid: true, request: task.requestId }), until: () => done }),
    ];
    // Let every worker reach its long-poll before the work arrives.
    await new Promise((resolve) => setTimeout(resolve, 500));

    const created = [];
    for (const citizen of [9988, 9989, 9990]) {
      created.push(await manager.requests.create({ plan: 'disaster_voucher', payload: { citizenId: citizen }, reference: `citizen-${citizen}` }));
    }
    expect(created.map((r) => r.status)).toEqual(['running', 'running', 'running']);

    let finished: RequestView[];
    try {
      finished = await Promise.all(created.map((r) => manager.requests.waitFor(r.id, { timeoutMs: 60_000, intervalMs: 200 })));
    } finally {
      done = true;
      await Promise.all(workers);
    }
    for (const request of finished) {
      expect(request.status).toBe('completed');
      expect(request.steps.map((s) => [s.stepId, s.status])).toEqual([
        ['verify_income', 'done'],
        ['inspect', 'done'],
        ['pay', 'done'],
      ]);
      expect(request.steps.find((s) => s.stepId === 'pay')?.output).toMatchObject({ paid: true, request: request.id });
    }
    // Both case-workers took part: waiting workers are served first come, first served.
    expect(ana.completed.length + ben.completed.length).toBe(3);
    expect(ana.completed.length).toBeGreaterThan(0);
    expect(ben.completed.length).toBeGreaterThan(0);

    for (const request of finished) {
      const history = await ledgerThrough(manager, request.id, 'act.request.completed');
      const types = history.map((e) => e.type);
      expect(types[0]).toBe('act.request.created');
      expect(types).toContain('oms.task.leased');
      expect(types.filter((t) => t === 'oms.task.completed')).toHaveLength(3);
      expect(types[types.length - 1]).toBe('act.request.completed');
      expect(history.map((e) => e.seq)).toEqual(history.map((_, i) => i + 1));
      expect(history.every((e, i) => i === 0 || e.prevHash === history[i - 1].hash)).toBe(true);
      const completions = history.filter((e) => e.type === 'oms.task.completed').map((e) => e.actor);
      expect(completions).toEqual(expect.arrayContaining(['ivan@fema.gov', 'pay-bot']));
      expect(history.find((e) => e.type === 'act.request.created')?.actor).toBe('manager@hms');
      await expect(manager.requests.verify(request.id)).resolves.toMatchObject({ valid: true, entries: history.length });
    }
  });

  it('answers bad input with the API error body and the right status', async () => {
    const { stack, manager } = env;
    const post = (path: string, body: string, token = stack.managerToken, type = 'application/json') =>
      fetch(`${stack.gatewayUrl}${path}`, { method: 'POST', headers: { 'content-type': type, authorization: `Bearer ${token}` }, body });

    const malformed = await post('/v1/requests', '{"plan": ');
    expect(malformed.status).toBe(400);
    expect(await json(malformed)).toMatchObject({ error: { code: 'VALIDATION_FAILED' }, requestId: expect.any(String) });

    const missing = await post('/v1/requests', '{"payload": {}}');
    expect(missing.status).toBe(400);
    expect((await json(missing)).error.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'plan' })]));

    const unknownPlan = await post('/v1/requests', '{"plan": "no_such_plan", "payload": {}}');
    expect(unknownPlan.status).toBe(404);
    expect((await json(unknownPlan)).error.code).toBe('NOT_FOUND');

    const badToken = await post('/v1/requests', '{"plan": "disaster_voucher"}', 'not-a-jwt');
    expect(badToken.status).toBe(401);
    expect((await json(badToken)).error.code).toBe('UNAUTHENTICATED');

    const noToken = await fetch(`${stack.gatewayUrl}/v1/plans`);
    expect(noToken.status).toBe(401);

    const workerToken = await stack.workerToken(['payments']);
    const foreignPool = await post('/v1/pools/hud_case_workers/lease', '{"worker": "w1"}', workerToken);
    expect(foreignPool.status).toBe(403);
    expect((await json(foreignPool)).error.code).toBe('FORBIDDEN');

    const invalidPlan = await post('/v1/plans', 'id: Bad Id\nsteps:\n  - id: a\n    pool: p\n    after: [zz]\n', stack.managerToken, 'application/yaml');
    expect(invalidPlan.status).toBe(400);
    const invalidBody = await json(invalidPlan);
    expect(invalidBody.error.details.map((d: { path: string }) => d.path)).toEqual(expect.arrayContaining(['id', 'steps[0].after']));

    const staleLease = await post('/v1/tasks/00000000-0000-4000-8000-000000000000/complete', '{"leaseToken": "stale", "output": {}}', workerToken);
    expect([404, 409]).toContain(staleLease.status);

    const error = await manager.requests.get('00000000-0000-4000-8000-000000000000').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HmsApiError);
    expect((error as HmsApiError).status).toBe(404);
  });

  it('serves the OpenAPI document and health without a token', async () => {
    const { stack } = env;
    const docs = await fetch(`${stack.gatewayUrl}/docs/openapi.json`);
    expect(docs.status).toBe(200);
    const document = await json(docs);
    // docs/openapi.json is what every answer of the e2e suite is checked against.
    expect(document).toEqual(openApiContract.document);
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining(['/v1/requests', '/v1/pools/{pool}/lease', '/v1/tasks/{id}/complete', '/v1/pools/{pool}/reroute', '/v1/workers/{worker}/heartbeat', '/v1/tasks/complete', '/v1/alerts', '/v1/alerts/{id}/ack', '/v1/alerts/{id}/resolve', '/v1/scaling/decisions', '/v1/metrics/stream']),
    );
    expect(document.components.schemas.CreateRequestCommand.required).toContain('plan');
    expect(document.components.schemas.WorkerHeartbeatCommand.required).toEqual(expect.arrayContaining(['worker', 'pools']));
    expect(document.components.schemas.CompleteTasksCommand.required).toEqual(['items']);
    expect(document.components.schemas.ResolveAlertCommand.properties.reason).toMatchObject({ type: 'string', maxLength: 1000 });
    expect(document.components.schemas.UpsertPoolCommand.properties.workerLivenessSeconds).toEqual({ type: 'integer', minimum: 10, maximum: 86400 });
    expect((await fetch(`${stack.gatewayUrl}/health/ready`)).status).toBe(200);
    for (const service of Object.values(stack.services)) {
      expect((await fetch(`${service.url}/health/live`)).status).toBe(200);
    }
  });

  it("serves the per-pool series from OPS beside its own process metrics at the gateway's /metrics", async () => {
    const { stack } = env;
    const pools = ['hud_case_workers', 'fema_inspectors', 'payments'];
    // OPS counts the tasks of the first test from the event stream, a moment after they ended.
    const text = await waitUntil(async () => {
      const response = await fetch(`${stack.gatewayUrl}/metrics`);
      expect(response.status).toBe(200);
      const body = await response.text();
      return pools.every((pool) => new RegExp(`^hms_task_completed_total\\{pool="${pool}",service="ops"\\} [1-9]`, 'm').test(body)) && body;
    });
    expect(text).toMatch(/^process_cpu_user_seconds_total\{service="api-gateway"\} /m);
    for (const pool of pools) expect(text).toMatch(new RegExp(`^hms_tasks_queued\\{pool="${pool}",service="ops"\\} 0$`, 'm'));
    // The users' tip, `curl /metrics | grep task_`, shows the depth of each queue.
    const grepped = text.split('\n').filter((line) => line.includes('task_'));
    for (const pool of pools) expect(grepped).toContain(`hms_task_queue_depth{pool="${pool}",service="ops"} 0`);
    expect(text).toMatch(/^# TYPE hms_task_wait_seconds histogram$/m);
  });

  it('checks every answer against the OpenAPI document', async () => {
    const { stack } = env;
    await fetch(`${stack.gatewayUrl}/v1/no-such-route`, { headers: { authorization: `Bearer ${stack.managerToken}` } });
    expect(answerChecks.takeDrift()).toEqual([expect.stringMatching(/^GET \/v1\/no-such-route: no such operation/)]);
  });
});
