import { HmsClient } from '@hms/client';
import { NatsHeaders, type LeaseTasksResult } from '@hms/contracts';
import { inboxPrefixOf, signToken } from '@hms/platform';
import { testInfra, testNatsUser } from '@hms/testing';
import { connect, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { startE2eStack, waitUntil } from './support/e2e-stack';

/**
 * The whole system on the run's NATS, whose users and permissions are those compose and the
 * manifests configure: every service and the gateway as its own user, events through JetStream,
 * and a bot that leases and completes over NATS as its own user with its own token.
 */
describe('The system on an authenticated NATS', () => {
  let env: Awaited<ReturnType<typeof startE2eStack>>;
  let bot: NatsConnection;

  beforeAll(async () => {
    env = await startE2eStack('e2e_nats_auth');
    const { user, password } = testNatsUser('bot');
    bot = await connect({ servers: testInfra().natsUrl, user, pass: password, inboxPrefix: inboxPrefixOf(user) });
    await env.manager.plans.register({ id: 'scans', steps: [{ id: 'front', pool: 'scanning' }, { id: 'back', pool: 'scanning', after: ['front'] }] });
  });

  afterAll(async () => {
    await bot?.close();
    await env?.dispose();
  });

  it('runs a request to its end through the gateway and a bot over NATS, and records each as itself', async () => {
    const { stack, manager } = env;
    const request = await manager.requests.create({ plan: 'scans', payload: { page: 1 } });
    await waitUntil(async () => (await manager.pools.peek('scanning')).depth === 1);

    const worker = new HmsClient({ baseUrl: stack.gatewayUrl, token: await stack.workerToken(['scanning'], 'scanner-1') });
    const [front] = (await worker.tasks.lease('scanning', { worker: 'scanner-1', max: 1 })).tasks;
    await worker.tasks.complete(front!.id, front!.leaseToken, { scanned: 'front' });

    const headers = natsHeaders();
    headers.set(NatsHeaders.actor, JSON.stringify({ id: 'manager@hms', roles: ['manager'] }));
    headers.set(NatsHeaders.token, await signToken({ sub: 'scanner-bot', roles: ['service'] }, stack.jwtSecret));
    const call = async <T>(subject: string, body: unknown): Promise<T> => {
      const reply = (await bot.request(`${stack.subjectPrefix}${subject}`, JSON.stringify(body), { headers, timeout: 15_000 })).json<{ ok: boolean; result: T }>();
      expect(reply.ok).toBe(true);
      return reply.result;
    };
    const leased = await call<LeaseTasksResult>('oms.task.lease', { pool: 'scanning', worker: 'scanner-bot', max: 1, waitSeconds: 10 });
    expect(leased.tasks).toHaveLength(1);
    await call('oms.task.complete', { taskId: leased.tasks[0]!.id, leaseToken: leased.tasks[0]!.leaseToken, output: { scanned: 'back' } });

    expect((await manager.requests.waitFor(request.id, { timeoutMs: 20_000, intervalMs: 100 })).status).toBe('completed');
    const history = await manager.requests.history(request.id);
    const actors = new Set(history.items.map((entry) => entry.actor));
    expect(actors).toContain('scanner-bot');
    expect(actors).toContain('scanner-1');
    // OPS consumed OMS's events as its own user: the completions are in its metrics.
    await waitUntil(async () => (await manager.metrics.pools()).pools.find((pool) => pool.pool === 'scanning' && pool.successRate === 1));
  });

  it("holds a bot with a worker token to its token's pools, as the gateway holds a worker", async () => {
    const headers = natsHeaders();
    headers.set(NatsHeaders.token, await env.stack.workerToken(['scanning'], 'scanner-bot'));
    const lease = async (pool: string) =>
      (await bot.request(`${env.stack.subjectPrefix}oms.task.lease`, JSON.stringify({ pool, worker: 'scanner-bot', max: 1 }), { headers, timeout: 15_000 })).json<{ ok: boolean; error?: { code: string } }>();
    expect(await lease('payments')).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(await lease('scanning')).toMatchObject({ ok: true });
    // A complete's next lease names a pool too, and is held to the same rule before anything is completed.
    const complete = { taskId: '00000000-0000-4000-8000-000000000000', leaseToken: 'x', next: { pool: 'payments' } };
    const refused = (await bot.request(`${env.stack.subjectPrefix}oms.task.complete`, JSON.stringify(complete), { headers, timeout: 15_000 })).json<{ ok: boolean; error?: { code: string } }>();
    expect(refused).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
  });
});
