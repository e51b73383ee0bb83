import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, type JWTPayload } from 'jose';
import type { AlertView } from '@hms/contracts';
import { HmsClient } from '@hms/client';
import { startE2eStack, waitUntil } from './support/e2e-stack';

const PER_TOKEN = 120;
const PER_ADDRESS = 30;

/**
 * The gateway as an attacker meets it, with the four services as processes: every test here is
 * an attack that went through before the trust-edge controls and is refused now (docs/security.md).
 */
describe('Trust edge through the gateway', () => {
  let env: Awaited<ReturnType<typeof startE2eStack>>;

  beforeAll(async () => {
    env = await startE2eStack('e2e_trust_edge', {
      // Low enough to flood within a test, high enough for this file's own polling (every 200 ms).
      // The limit holds in every sliding 10 s window, so a burst cannot straddle two windows.
      GATEWAY_RATE_LIMIT_PER_TOKEN: String(PER_TOKEN),
      GATEWAY_RATE_LIMIT_PER_ADDRESS: String(PER_ADDRESS),
      // http is allowed so that what refuses the webhooks below is their destination.
      OPS_WEBHOOK_ALLOW_HTTP: '1',
      OPS_WEBHOOK_SECRET: 'e2e-trust-edge-webhook-secret',
      OPS_ESCALATION_SWEEP_MS: '200',
    });
    await env.manager.plans.register({ id: 'desk_check', steps: [{ id: 'check', pool: 'desk' }] });
  });

  afterAll(async () => {
    await env?.dispose();
  });

  const send = async (method: string, path: string, token?: string, body?: unknown) => {
    const response = await fetch(`${env.stack.gatewayUrl}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text.startsWith('{') ? JSON.parse(text) : text };
  };
  const worker = (sub: string, pools: string[]) => env.stack.workerToken(pools, sub);
  const forge = (claims: JWTPayload) => new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(env.stack.jwtSecret));
  const now = () => Math.floor(Date.now() / 1000);

  it('answers with security headers and without X-Powered-By, on success and error alike', async () => {
    for (const [path, token] of [
      ['/v1/pools', env.stack.managerToken],
      ['/v1/pools', undefined],
      ['/no/such/route', undefined],
      // Refused by the router before any hook runs.
      ['/v1/plans/%ED%A0%80', env.stack.managerToken],
    ] as const) {
      const { headers } = await send('GET', path, token);
      expect(headers.get('x-powered-by')).toBeNull();
      expect(headers.get('x-content-type-options')).toBe('nosniff');
      expect(headers.get('content-security-policy')).toContain("default-src 'self'");
      expect(headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(headers.get('strict-transport-security')).toMatch(/max-age=/);
    }
    // The dashboard keeps its own, stricter policy (its e2e drives it in Chromium).
    expect((await send('GET', '/dashboard')).headers.get('content-security-policy')).toContain("default-src 'none'");
  });

  it('asks for a token on a /v1 route whose path is written in another case', async () => {
    // The router ignores case, so the guard reads the route that matched, not the URL as sent.
    // (Only paths outside /v1/ as written: the e2e contract check knows the documented spelling.)
    for (const path of ['/V1/pools', '/V1/POOLS']) {
      const { status, body } = await send('GET', path);
      expect({ path, status, code: body.error?.code }).toEqual({ path, status: 401, code: 'UNAUTHENTICATED' });
    }
  });

  it.each<[string, () => JWTPayload]>([
    ['without exp', () => ({ sub: 'ana', roles: ['manager'], iat: now() })],
    ['issued a day in the future', () => ({ sub: 'ana', roles: ['manager'], iat: now() + 86_400, exp: now() + 90_000 })],
    ['living a year', () => ({ sub: 'ana', roles: ['manager'], iat: now(), exp: now() + 365 * 86_400 })],
    ['whose sub is an object', () => ({ sub: { id: 'ana' } as unknown as string, roles: ['manager'], iat: now(), exp: now() + 600 })],
    ['whose sub is a number', () => ({ sub: 7 as unknown as string, roles: ['manager'], iat: now(), exp: now() + 600 })],
    ['with a role outside the closed set', () => ({ sub: 'ana', roles: ['manager', 'superuser'], iat: now(), exp: now() + 600 })],
  ])('refuses a token %s with 401', async (_, claims) => {
    const { status, body } = await send('GET', '/v1/pools', await forge(claims()));
    expect(status).toBe(401);
    expect(body.error.code).toBe('UNAUTHENTICATED');
  });

  it('ends a metrics stream when its token expires, and caps the open streams of a token', async () => {
    const shortLived = await forge({ sub: 'wallboard', roles: ['manager'], iat: now(), exp: now() + 2 });
    const response = await fetch(`${env.stack.gatewayUrl}/v1/metrics/stream`, { headers: { authorization: `Bearer ${shortLived}` } });
    expect(response.status).toBe(200);
    // Read to the end: before, the stream went on for as long as the client listened.
    const text = await response.text();
    expect(text).toMatch(/event: error\ndata: \{"error":\{"code":"UNAUTHENTICATED"/);

    const dashboard = await forge({ sub: 'many-tabs', roles: ['manager'], iat: now(), exp: now() + 600 });
    const aborts: AbortController[] = [];
    try {
      for (let i = 0; i < 5; i += 1) {
        const abort = new AbortController();
        aborts.push(abort);
        expect((await fetch(`${env.stack.gatewayUrl}/v1/metrics/stream`, { headers: { authorization: `Bearer ${dashboard}` }, signal: abort.signal })).status).toBe(200);
      }
      const sixth = await send('GET', '/v1/metrics/stream', dashboard);
      expect([sixth.status, sixth.body.error.code]).toEqual([429, 'RATE_LIMITED']);
    } finally {
      for (const abort of aborts) abort.abort();
    }
  });

  it('makes a worker its token: no other name, no lease held by another, no lease beyond the pool cap', async () => {
    const { manager } = env;
    await manager.pools.put('desk', { kind: 'human', leaseSeconds: 60, maxLeaseSeconds: 60 });
    for (let i = 0; i < 2; i += 1) await manager.requests.create({ plan: 'desk_check', payload: { i } });
    await waitUntil(async () => (await manager.pools.peek('desk')).depth === 2);
    const ana = await worker('ana', ['desk']);
    const eve = await worker('eve', ['desk']);

    // One token, many "workers": refused, for leases and for worker heartbeats.
    expect((await send('POST', '/v1/pools/desk/lease', ana, { worker: 'mallory' })).status).toBe(403);
    for (let i = 0; i < 5; i += 1) expect((await send('POST', `/v1/workers/ghost-${i}/heartbeat`, ana, { pools: ['desk'] })).status).toBe(403);

    // A week asked for, the pool's 60 s granted.
    const leased = await send('POST', '/v1/pools/desk/lease', ana, { leaseSeconds: 7 * 86_400 });
    expect(leased.status).toBe(200);
    const [task] = leased.body.tasks;
    expect(Date.parse(task.leaseExpiresAt) - Date.now()).toBeLessThanOrEqual(61_000);
    expect((await manager.tasks.get(task.id)).worker).toBe('ana');
    const beat = await send('POST', `/v1/tasks/${task.id}/heartbeat`, ana, { leaseToken: task.leaseToken, extendSeconds: 7 * 86_400 });
    expect(Date.parse(beat.body.leaseExpiresAt) - Date.now()).toBeLessThanOrEqual(61_000);

    // Eve has seen Ana's lease token: it does not make her the holder.
    for (const action of ['complete', 'fail', 'heartbeat', 'release']) {
      const body = action === 'fail' ? { leaseToken: task.leaseToken, error: { message: 'x' }, retryable: false } : { leaseToken: task.leaseToken };
      const refused = await send('POST', `/v1/tasks/${task.id}/${action}`, eve, body);
      expect([action, refused.status, refused.body.error?.code]).toEqual([action, 403, 'FORBIDDEN']);
    }
    // A complete's next lease is a lease: only in the token's pools, refused before anything is completed.
    for (const [path, body] of [
      [`/v1/tasks/${task.id}/complete`, { leaseToken: task.leaseToken, output: { ok: true }, next: { pool: 'payments' } }],
      ['/v1/tasks/complete', { items: [{ taskId: task.id, leaseToken: task.leaseToken }], next: { pool: 'payments' } }],
      [`/v1/tasks/${task.id}/complete`, { leaseToken: task.leaseToken, output: { ok: true }, next: { pool: 'desk', worker: 'mallory' } }],
    ] as const) {
      const refused = await send('POST', path, ana, body);
      expect([path, refused.status, refused.body.error?.code]).toEqual([path, 403, 'FORBIDDEN']);
    }
    expect((await manager.tasks.get(task.id)).status).toBe('leased');

    // Ana walks off with the other task, leased in the answer of her complete: only a manager takes it back without her lease token.
    const done = await send('POST', `/v1/tasks/${task.id}/complete`, ana, { leaseToken: task.leaseToken, output: { ok: true }, next: { pool: 'desk' } });
    expect(done).toMatchObject({ status: 200, body: { id: task.id, status: 'completed', next: { tasks: [expect.objectContaining({ pool: 'desk' })] } } });
    const [stuck] = done.body.next.tasks;
    expect((await manager.tasks.get(stuck.id)).worker).toBe('ana');
    const tokenless = await send('POST', `/v1/tasks/${stuck.id}/release`, eve, {});
    expect([tokenless.status, tokenless.body.error.code, tokenless.body.error.details]).toEqual([400, 'VALIDATION_FAILED', [expect.objectContaining({ path: 'leaseToken' })]]);
    await expect(manager.tasks.release(stuck.id)).resolves.toEqual({ id: stuck.id, status: 'queued' });
    expect(await manager.tasks.get(stuck.id)).toMatchObject({ status: 'queued', worker: null, attempt: 0 });
  });

  it("keeps idempotency keys to their caller: another service's same key neither collides nor leaks", async () => {
    const [alpha, beta] = await Promise.all([forge({ sub: 'intake-alpha', roles: ['service'], iat: now(), exp: now() + 600 }), forge({ sub: 'intake-beta', roles: ['service'], iat: now(), exp: now() + 600 })]);
    const create = (token: string, payload: object) =>
      fetch(`${env.stack.gatewayUrl}/v1/requests`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': 'ticket-1' },
        body: JSON.stringify({ plan: 'desk_check', payload }),
      }).then(async (response) => ({ status: response.status, body: (await response.json()) as { id: string } }));
    const first = await create(alpha, { citizen: 'a' });
    const other = await create(beta, { citizen: 'b' });
    expect([first.status, other.status]).toEqual([201, 201]);
    expect(other.body.id).not.toBe(first.body.id);
    expect(await create(alpha, { citizen: 'a' })).toMatchObject({ status: 200, body: { id: first.body.id } });
  });

  describe('escalation webhooks', () => {
    let inside: { server: Server; port: number; hits: number };

    beforeAll(async () => {
      const state = { hits: 0 };
      const server = createServer((request, response) => {
        state.hits += 1;
        response.statusCode = 204;
        response.end();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      inside = Object.assign(state, { server, port: (server.address() as AddressInfo).port });
    });

    afterAll(async () => {
      await new Promise((resolve) => inside.server.close(resolve));
    });

    it('refuses a webhook URL that is not http(s) or carries credentials, with the path of the field', async () => {
      for (const webhook of ['ftp://hooks.example/x', 'hooks.example/x', 'https://user:pw@hooks.example/x']) {
        const { status, body } = await send('PUT', '/v1/pools/hooked', env.stack.managerToken, { kind: 'human', escalation: { webhook } });
        expect([webhook, status, body.error.details[0].path]).toEqual([webhook, 400, 'escalation.webhook']);
      }
    });

    it('shows a pool webhook to managers only', async () => {
      await env.manager.pools.put('hooked', { kind: 'human', escalation: { webhook: 'https://hooks.example/on-call', pool: 'supervisors' } });
      const asWorker = await send('GET', '/v1/pools/hooked', await worker('wanda', ['hooked']));
      expect(asWorker.status).toBe(200);
      expect(asWorker.body.escalation).toEqual({ pool: 'supervisors' });
      expect((await env.manager.pools.get('hooked')).escalation).toEqual({ pool: 'supervisors', webhook: 'https://hooks.example/on-call' });
    });

    it.each([
      ['the cloud metadata service', () => 'http://169.254.169.254/latest/meta-data/iam/security-credentials/'],
      ['a loopback port, by name (checked after DNS resolution)', () => `http://localhost:${inside.port}/admin`],
    ])('does not post to %s, and says only "failed"', async (_, url) => {
      const pool = `ssrf_${inside.hits}_${Date.now()}`;
      await env.manager.pools.put(pool, { kind: 'bot', maxAttempts: 1, escalation: { webhook: url() } });
      await env.manager.plans.register({ id: pool, steps: [{ id: 'run', pool }] });
      const request = await env.manager.requests.create({ plan: pool, payload: {} });
      const bot = new HmsClient({ baseUrl: env.stack.gatewayUrl, token: await worker(`${pool}-bot`, [pool]) });
      const task = await waitUntil(async () => (await bot.tasks.lease(pool, { waitSeconds: 2 })).tasks[0]);
      await bot.tasks.fail(task.id, task.leaseToken, { message: 'broken' }, false);
      const alert = await waitUntil<AlertView>(async () => {
        const [found] = (await env.manager.alerts.list({ requestId: request.id })).items;
        return found?.escalation?.webhook?.status === 'failed' ? found : undefined;
      });
      expect(alert.escalation!.webhook).toMatchObject({ status: 'failed', attempts: 1, lastError: 'failed' });
      expect(inside.hits).toBe(0);
    });
  });

  // Last: they spend this file's per-address and per-token budgets.
  it('answers a flood from one token with 429 and Retry-After, and leaves other callers alone', async () => {
    const flooder = await worker('flooder', ['desk']);
    const answers = await Promise.all(Array.from({ length: 300 }, () => send('GET', '/v1/pools/desk/queue', flooder)));
    const limited = answers.filter((answer) => answer.status === 429);
    expect(answers.filter((answer) => answer.status === 200).length).toBeLessThanOrEqual(PER_TOKEN);
    expect(limited.length).toBeGreaterThanOrEqual(300 - PER_TOKEN);
    expect(limited[0]!.body.error.code).toBe('RATE_LIMITED');
    expect(Number(limited[0]!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await send('GET', '/v1/pools/desk/queue', await worker('bystander', ['desk']))).status).toBe(200);
  });

  it('limits calls without a valid token per address, so tokens cannot be guessed at speed', async () => {
    const answers = await Promise.all(Array.from({ length: PER_ADDRESS * 2 }, (_, i) => send('GET', '/v1/pools', `guess-${i}`)));
    expect(answers.filter((answer) => answer.status === 401).length).toBeLessThanOrEqual(PER_ADDRESS);
    expect(answers.filter((answer) => answer.status === 429).length).toBeGreaterThanOrEqual(PER_ADDRESS);
    // A caller with a valid token is counted apart.
    expect((await send('GET', '/v1/pools', env.stack.managerToken)).status).toBe(200);
  });
});
