import type { LeasedTask } from '@hms/contracts';
import { HmsClient, HmsApiError } from '@hms/client';
import { startE2eStack, workPool, waitUntil } from './support/e2e-stack';

/**
 * A supervisor's day with the queues, through the gateway: the Spanish-language permits are
 * moved in bulk to the bilingual desk and finished there; a queue whose SLA is already gone
 * announces each late task once, in the request's audit trail and in OPS's breach counter.
 */
describe('Queue operations through the gateway', () => {
  let env: Awaited<ReturnType<typeof startE2eStack>>;

  beforeAll(async () => {
    env = await startE2eStack('e2e_queue_ops', { OMS_SLA_SWEEP_MS: '200' });
    for (const language of ['es', 'en']) {
      await env.manager.plans.register({
        id: `permit_${language}`,
        steps: [{ id: 'review', pool: 'permit_desk', tags: [language] }],
      });
    }
  });

  afterAll(async () => {
    await env?.dispose();
  });

  it('moves the queued tasks matching a tag to another pool, where they are worked to completion', async () => {
    const { stack, manager } = env;
    const spanish = [];
    for (let i = 0; i < 3; i++) spanish.push(await manager.requests.create({ plan: 'permit_es', payload: { permit: i } }));
    const english = [];
    for (let i = 0; i < 2; i++) english.push(await manager.requests.create({ plan: 'permit_en', payload: { permit: i } }));
    await waitUntil(async () => (await manager.pools.peek('permit_desk')).depth === 5);

    const deskWorker = new HmsClient({ baseUrl: stack.gatewayUrl, token: await stack.workerToken(['permit_desk'], 'clerk') });
    const refused = await deskWorker.pools.reroute('permit_desk', { toPool: 'bilingual_desk', tags: ['es'] }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(HmsApiError);
    expect((refused as HmsApiError).status).toBe(403);

    const badBody = await fetch(`${stack.gatewayUrl}/v1/pools/permit_desk/reroute`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.managerToken}` },
      body: JSON.stringify({ toPool: 'Bilingual Desk', limit: 0 }),
    });
    expect(badBody.status).toBe(400);
    const badBodyJson = (await badBody.json()) as { error: { code: string; details: Array<{ path: string }> } };
    expect(badBodyJson.error.code).toBe('VALIDATION_FAILED');
    expect(badBodyJson.error.details.map((d) => d.path)).toEqual(expect.arrayContaining(['toPool', 'limit']));

    const moved = await manager.pools.reroute('permit_desk', { toPool: 'bilingual_desk', tags: ['es'], reason: 'Spanish-language permits' });
    expect(moved).toMatchObject({ fromPool: 'permit_desk', toPool: 'bilingual_desk', moved: 3, more: false });
    expect((await manager.pools.peek('permit_desk')).depth).toBe(2);

    const bilingual = new HmsClient({ baseUrl: stack.gatewayUrl, token: await stack.workerToken(['bilingual_desk'], 'rosa') });
    let done = false;
    const rosa = workPool({ client: bilingual, pool: 'bilingual_desk', worker: 'rosa', tags: ['es'], output: () => ({ approved: true }), until: () => done });
    try {
      const finished = await Promise.all(spanish.map((r) => manager.requests.waitFor(r.id, { timeoutMs: 30_000, intervalMs: 200 })));
      expect(finished.map((r) => r.status)).toEqual(['completed', 'completed', 'completed']);
    } finally {
      done = true;
    }
    expect((await rosa).completed).toHaveLength(3);
    // Rosa leased from the bilingual desk and is not silent long enough to be declared gone.
    const online = await waitUntil(async () => {
      const text = await (await fetch(`${stack.services.ops.url}/metrics`)).text();
      return /^hms_workers_online\{[^}]*pool="bilingual_desk"[^}]*\} 1$/m.test(text);
    });
    expect(online).toBe(true);
    for (const request of english) expect((await manager.requests.get(request.id)).status).toBe('running');

    const { items } = await manager.requests.history(spanish[0]!.id);
    const rerouted = items.find((entry) => entry.type === 'oms.task.rerouted');
    expect(rerouted).toMatchObject({ actor: 'manager@hms', data: { fromPool: 'permit_desk', toPool: 'bilingual_desk', reason: 'Spanish-language permits' } });
    expect(await manager.requests.verify(spanish[0]!.id)).toMatchObject({ valid: true });
  });

  it('lets a bot complete its whole batch in one call, each item answered on its own', async () => {
    const { stack, manager } = env;
    await manager.plans.register({ id: 'stamp', steps: [{ id: 'stamp', pool: 'stamp_bots' }] });
    const requests = [];
    for (let i = 0; i < 3; i++) requests.push(await manager.requests.create({ plan: 'stamp', payload: { form: i } }));
    const bot = new HmsClient({ baseUrl: stack.gatewayUrl, token: await stack.workerToken(['stamp_bots'], 'stamper') });
    const leased: LeasedTask[] = [];
    while (leased.length < 3) leased.push(...(await bot.tasks.lease('stamp_bots', { worker: 'stamper', max: 3, waitSeconds: 5 })).tasks);

    const { results } = await bot.tasks.completeMany([
      ...leased.map((task) => ({ taskId: task.id, leaseToken: task.leaseToken, output: { stamped: task.payload } })),
      { taskId: leased[0]!.id, leaseToken: 'not-the-token' },
    ]);
    expect(results.slice(0, 3)).toEqual(leased.map((task) => ({ id: task.id, status: 'completed' })));
    expect(results[3]).toMatchObject({ id: leased[0]!.id, error: { code: 'LEASE_LOST' } });
    const finished = await Promise.all(requests.map((r) => manager.requests.waitFor(r.id, { timeoutMs: 30_000, intervalMs: 200 })));
    expect(finished.map((r) => r.status)).toEqual(['completed', 'completed', 'completed']);
    for (const task of leased) expect(finished.find((r) => r.id === task.requestId)?.steps[0]?.output).toEqual({ stamped: task.payload });

    const tooMany = await bot.tasks.completeMany(Array.from({ length: 101 }, () => ({ taskId: leased[0]!.id, leaseToken: 'x' }))).catch((e: unknown) => e);
    expect(tooMany).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
  });

  it('counts a case-worker online from her worker heartbeats alone, only in her pools', async () => {
    const { stack, manager } = env;
    const maria = new HmsClient({ baseUrl: stack.gatewayUrl, token: await stack.workerToken(['records_desk'], 'maria') });
    const beat = await maria.workers.heartbeat('maria', ['records_desk']);
    expect(beat).toMatchObject({ worker: 'maria', pools: ['records_desk'], livenessSeconds: expect.any(Number) });
    const online = await waitUntil(async () => (await manager.metrics.pools()).pools.find((p) => p.pool === 'records_desk' && p.workersOnline === 1));
    expect(online).toBeTruthy();

    const foreign = await maria.workers.heartbeat('maria', ['records_desk', 'permit_desk']).catch((e: unknown) => e);
    expect((foreign as HmsApiError).status).toBe(403);
    const empty = await maria.workers.heartbeat('maria', []).catch((e: unknown) => e);
    expect(empty).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
  });

  it("gives a pool its own worker liveness window, refuses a bad one with the field's path, and answers heartbeats with the smallest", async () => {
    const { stack, manager } = env;
    expect(await manager.pools.put('triage_desk', { kind: 'human', workerLivenessSeconds: 15 })).toMatchObject({ pool: 'triage_desk', workerLivenessSeconds: 15 });
    expect(await manager.pools.put('archive_desk', { kind: 'human' })).toMatchObject({ workerLivenessSeconds: 60 }); // the service default
    expect((await manager.pools.list()).items.find((p) => p.pool === 'triage_desk')).toMatchObject({ workerLivenessSeconds: 15 });

    for (const workerLivenessSeconds of [5, 100_000, 1.5]) {
      const response = await fetch(`${stack.gatewayUrl}/v1/pools/triage_desk`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.managerToken}` },
        body: JSON.stringify({ kind: 'human', workerLivenessSeconds }),
      });
      expect(response.status).toBe(400);
      const body = (await response.json()) as { error: { code: string; details: Array<{ path: string }> }; requestId: string };
      expect(body.error.code).toBe('VALIDATION_FAILED');
      expect(body.error.details.map((d) => d.path)).toContain('workerLivenessSeconds');
      expect(body.requestId).toEqual(expect.any(String));
    }
    expect(await manager.pools.get('triage_desk')).toMatchObject({ workerLivenessSeconds: 15 });

    const clerk = new HmsClient({ baseUrl: stack.gatewayUrl, token: await stack.workerToken(['triage_desk', 'archive_desk'], 'ines') });
    expect(await clerk.workers.heartbeat('ines', ['archive_desk', 'triage_desk'])).toMatchObject({ livenessSeconds: 15 });
    expect(await clerk.workers.heartbeat('ines', ['archive_desk'])).toMatchObject({ livenessSeconds: 60 });
  });

  it('announces each task past its SLA once: in the request history and in the breach counter', async () => {
    const { stack, manager } = env;
    await manager.pools.setSla('late_desk', 0.005); // 0.3 s: every task queued from now on breaches
    await manager.plans.register({ id: 'late_permit', steps: [{ id: 'review', pool: 'late_desk' }] });
    const requests = [];
    for (let i = 0; i < 2; i++) requests.push(await manager.requests.create({ plan: 'late_permit', payload: { permit: i } }));

    for (const request of requests) {
      const entry = await waitUntil(async () => (await manager.requests.history(request.id)).items.find((e) => e.type === 'oms.task.sla-breached'));
      expect(entry).toMatchObject({ actor: 'system:oms', data: { pool: 'late_desk', status: 'queued', worker: null } });
    }
    const breaches = await waitUntil(async () => {
      const text = await (await fetch(`${stack.services.ops.url}/metrics`)).text();
      const count = Number(/^hms_sla_breaches_total\{[^}]*pool="late_desk"[^}]*\} (\d+)$/m.exec(text)?.[1] ?? 0);
      return count >= 2 ? count : undefined;
    });
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // five more sweeps
    for (const request of requests) {
      const late = (await manager.requests.history(request.id)).items.filter((e) => e.type === 'oms.task.sla-breached');
      expect(late).toHaveLength(1);
    }
    expect(breaches).toBe(2);
  });
});
