import type { PlanDefinition, RequestView } from '@hms/contracts';
import { HmsApiError } from './hms-api-error';
import { HmsClient, WaitTimeoutError } from './hms-client';
import { createFakeFetch, type FakeFetch, type FakeRoute } from './testing/fake-fetch';

const BASE = 'http://hms.test:3000';
const TOKEN = 'tok.en.jwt';

function setup(route?: FakeRoute, options: { timeoutMs?: number; baseUrl?: string } = {}): { hms: HmsClient; fake: FakeFetch } {
  const fake = createFakeFetch(route);
  const hms = new HmsClient({ baseUrl: options.baseUrl ?? BASE, token: TOKEN, fetch: fake.fetch, ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}) });
  return { hms, fake };
}

function requestView(status: RequestView['status']): RequestView {
  return {
    id: 'r1',
    plan: 'p',
    version: 1,
    status,
    reference: null,
    priority: 0,
    createdAt: '2025-01-01T00:00:00Z',
    updatedAt: '2025-01-01T00:00:00Z',
    slaDueAt: null,
    completedAt: null,
    escalations: [],
    payload: {},
    createdBy: 'svc',
    steps: [],
    result: null,
    details: { reason: null, stepId: null, escalations: [] },
  };
}

const plan: PlanDefinition = { id: 'passport_renewal', steps: [{ id: 'verify', pool: 'human_verify' }] };

describe(HmsClient.name, () => {
  describe('transport', () => {
    it('sends the bearer token and JSON accept header when any call is made', async () => {
      const { hms, fake } = setup();
      fake.enqueue({ body: { items: [] } });
      await hms.plans.list();
      expect(fake.calls[0]).toMatchObject({ method: 'GET', url: `${BASE}/v1/plans` });
      expect(fake.calls[0].headers).toMatchObject({ authorization: `Bearer ${TOKEN}`, accept: 'application/json' });
      expect(fake.calls[0].body).toBeUndefined();
    });

    it('keeps a base path and drops trailing slashes when the base URL has them', async () => {
      const { hms, fake } = setup(undefined, { baseUrl: 'https://gw.example/hms/' });
      await hms.requests.get('r1');
      expect(fake.calls[0].url).toBe('https://gw.example/hms/v1/requests/r1');
    });

    it('encodes ids when they contain reserved characters', async () => {
      const { hms, fake } = setup();
      await hms.tasks.get('a/b?c');
      expect(fake.calls[0].path).toBe('/v1/tasks/a%2Fb%3Fc');
    });

    it('omits the authorization header when no token is given', async () => {
      const fake = createFakeFetch();
      await new HmsClient({ baseUrl: BASE, fetch: fake.fetch }).pools.list();
      expect(fake.calls[0].headers.authorization).toBeUndefined();
    });
  });

  describe('errors', () => {
    it('throws HmsApiError with code, status, details and requestId when the gateway answers an error body', async () => {
      const { hms, fake } = setup();
      fake.enqueue({
        status: 400,
        body: {
          error: { code: 'VALIDATION_FAILED', message: 'plan is invalid', details: [{ path: 'steps[1].after', message: 'unknown step x' }] },
          requestId: 'req-42',
        },
      });
      const error = await hms.plans.register(plan).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HmsApiError);
      expect(error).toMatchObject({
        status: 400,
        code: 'VALIDATION_FAILED',
        message: 'plan is invalid',
        requestId: 'req-42',
        details: [{ path: 'steps[1].after', message: 'unknown step x' }],
        retryable: false,
      });
    });

    it('maps LEASE_LOST when a complete is answered 409', async () => {
      const { hms, fake } = setup();
      fake.enqueue({ status: 409, body: { error: { code: 'LEASE_LOST', message: 'stale lease' }, requestId: 'x' } });
      await expect(hms.tasks.complete('t1', 'lt', {})).rejects.toMatchObject({ code: 'LEASE_LOST', status: 409, details: [] });
    });

    it('marks the error retryable when the status is 503 or 429', async () => {
      const { hms, fake } = setup();
      fake.enqueue(
        { status: 503, body: { error: { code: 'UNAVAILABLE', message: 'oms did not answer' }, requestId: 'a' } },
        { status: 429, body: { error: { code: 'RATE_LIMITED', message: 'slow down' }, requestId: 'b' } },
      );
      await expect(hms.pools.list()).rejects.toMatchObject({ code: 'UNAVAILABLE', retryable: true });
      await expect(hms.pools.list()).rejects.toMatchObject({ code: 'RATE_LIMITED', retryable: true });
    });

    it('derives the code from the status and the requestId from the header when the body is not the contract shape', async () => {
      const { hms, fake } = setup();
      fake.enqueue({ status: 502, body: '<html>bad gateway</html>', headers: { 'x-request-id': 'hdr-1' } });
      await expect(hms.requests.get('r1')).rejects.toMatchObject({ status: 502, code: 'UNAVAILABLE', requestId: 'hdr-1', retryable: true });
    });

    it('throws UNAVAILABLE with status 0 when the network fails', async () => {
      const { hms, fake } = setup();
      fake.enqueue(new TypeError('fetch failed'));
      const error = (await hms.requests.get('r1').catch((e: unknown) => e)) as HmsApiError;
      expect(error).toBeInstanceOf(HmsApiError);
      expect(error).toMatchObject({ status: 0, code: 'UNAVAILABLE', retryable: true });
      expect(error.message).toContain('fetch failed');
    });

    it('throws UNAVAILABLE when the gateway does not answer within timeoutMs', async () => {
      const { hms } = setup(() => 'hang', { timeoutMs: 30 });
      await expect(hms.requests.get('r1')).rejects.toMatchObject({ status: 0, code: 'UNAVAILABLE', message: expect.stringContaining('within 30 ms') });
    });

    it('rejects with the abort reason, not an HmsApiError, when the caller aborts', async () => {
      const { hms } = setup(() => 'hang');
      const controller = new AbortController();
      const pending = hms.requests.get('r1', { signal: controller.signal });
      const reason = new Error('stop');
      controller.abort(reason);
      await expect(pending).rejects.toBe(reason);
    });
  });

  describe('plans', () => {
    it('posts JSON and reports created when the object is new (201)', async () => {
      const { hms, fake } = setup();
      fake.enqueue({ status: 201, body: { id: 'passport_renewal', version: 1 } });
      await expect(hms.plans.register(plan)).resolves.toEqual({ id: 'passport_renewal', version: 1, created: true });
      expect(fake.calls[0]).toMatchObject({ method: 'POST', path: '/v1/plans', json: plan });
      expect(fake.calls[0].headers['content-type']).toBe('application/json');
    });

    it('posts the text with Content-Type application/yaml and reports not created when the YAML is known (200)', async () => {
      const { hms, fake } = setup();
      const yaml = 'id: passport_renewal\nsteps:\n  - id: verify\n    pool: human_verify\n';
      fake.enqueue({ status: 200, body: { id: 'passport_renewal', version: 3 } });
      await expect(hms.plans.register(yaml)).resolves.toEqual({ id: 'passport_renewal', version: 3, created: false });
      expect(fake.calls[0].headers['content-type']).toBe('application/yaml');
      expect(fake.calls[0].body).toBe(yaml);
    });

    it('names a plan file that has no id with ?id=', async () => {
      const { hms, fake } = setup();
      fake.enqueue({ status: 201, body: { id: 'pothole_repair', version: 1 } });
      await hms.plans.register({ steps: [{ task: 'assessSeverity', agent: 'SeverityAgent' }], slaHours: 48 }, { id: 'pothole_repair' });
      expect(fake.calls[0]).toMatchObject({ method: 'POST', path: '/v1/plans?id=pothole_repair' });
    });

    it('gets the latest version or a given one when a version is passed', async () => {
      const { hms, fake } = setup();
      await hms.plans.get('p');
      await hms.plans.get('p', 2);
      expect(fake.calls.map((c) => `${c.method} ${c.path}`)).toEqual(['GET /v1/plans/p', 'GET /v1/plans/p/versions/2']);
    });

    it('wraps a bare array into items when a list answer has no envelope', async () => {
      const { hms, fake } = setup();
      fake.enqueue({ body: [{ id: 'p', latestVersion: 1, title: null, updatedAt: 'x' }] });
      await expect(hms.plans.list()).resolves.toEqual({ items: [{ id: 'p', latestVersion: 1, title: null, updatedAt: 'x' }] });
    });
  });

  describe('requests', () => {
    const created = { id: 'r1', plan: 'p', version: 1, status: 'running', createdAt: 't', slaDueAt: null };

    it('sends the Idempotency-Key header and reports created when a key is given', async () => {
      const { hms, fake } = setup();
      fake.enqueue({ status: 201, body: created }, { status: 200, body: created });
      const input = { plan: 'p', payload: { name: 'Ada' }, reference: 'T-1', priority: 2, slaMinutes: 60 };
      await expect(hms.requests.create(input, { idempotencyKey: 'k-1' })).resolves.toEqual({ ...created, created: true });
      await expect(hms.requests.create(input, { idempotencyKey: 'k-1' })).resolves.toEqual({ ...created, created: false });
      expect(fake.calls[0]).toMatchObject({ method: 'POST', path: '/v1/requests', json: input });
      expect(fake.calls[0].headers['idempotency-key']).toBe('k-1');
    });

    it('sends no Idempotency-Key header when no key is given', async () => {
      const { hms, fake } = setup();
      fake.enqueue({ status: 201, body: created });
      await hms.requests.create({ plan: 'p', version: 2, payload: {} });
      expect(fake.calls[0].headers['idempotency-key']).toBeUndefined();
      expect(fake.calls[0].json).toEqual({ plan: 'p', version: 2, payload: {} });
    });

    it('puts only the given filters in the query when listing', async () => {
      const { hms, fake } = setup();
      fake.enqueue({ body: { items: [{ id: 'r1' }], nextCursor: 'c2' } });
      await expect(hms.requests.list({ plan: 'p', status: 'running', limit: 10 })).resolves.toEqual({ items: [{ id: 'r1' }], nextCursor: 'c2' });
      expect(fake.calls[0].path).toBe('/v1/requests?plan=p&status=running&limit=10');
    });

    it('follows nextCursor across pages when iterating listAll', async () => {
      const { hms, fake } = setup();
      fake.enqueue(
        { body: { items: [{ id: 'r1' }, { id: 'r2' }], nextCursor: 'c2' } },
        { body: { items: [{ id: 'r3' }], nextCursor: 'c3' } },
        { body: { items: [], nextCursor: null } },
      );
      const ids: string[] = [];
      for await (const request of hms.requests.listAll({ reference: 'T-1' })) ids.push(request.id);
      expect(ids).toEqual(['r1', 'r2', 'r3']);
      expect(fake.calls.map((c) => c.path)).toEqual([
        '/v1/requests?reference=T-1',
        '/v1/requests?reference=T-1&cursor=c2',
        '/v1/requests?reference=T-1&cursor=c3',
      ]);
    });

    it('fetches pages lazily when the loop stops early', async () => {
      const { hms, fake } = setup();
      fake.enqueue({ body: { items: [{ id: 'r1' }, { id: 'r2' }], nextCursor: 'c2' } });
      for await (const request of hms.requests.listAll()) if (request.id === 'r1') break;
      expect(fake.calls).toHaveLength(1);
    });

    it('posts the reason when cancelling', async () => {
      const { hms, fake } = setup();
      await hms.requests.cancel('r1', 'citizen withdrew');
      expect(fake.calls[0]).toMatchObject({ method: 'POST', path: '/v1/requests/r1/cancel', json: { reason: 'citizen withdrew' } });
    });

    it('pages the history and calls verify when asked', async () => {
      const { hms, fake } = setup();
      fake.enqueue({ body: { items: [{ seq: 1 }], nextCursor: null } }, { body: { valid: true, entries: 1 } });
      await expect(hms.requests.history('r1', { limit: 5, cursor: 'c' })).resolves.toEqual({ items: [{ seq: 1 }], nextCursor: null });
      await expect(hms.requests.verify('r1')).resolves.toEqual({ valid: true, entries: 1 });
      expect(fake.calls.map((c) => `${c.method} ${c.path}`)).toEqual(['GET /v1/requests/r1/history?cursor=c&limit=5', 'GET /v1/requests/r1/history/verify']);
    });

    it('polls until a terminal status when waiting, retrying through a 503', async () => {
      const { hms, fake } = setup();
      fake.enqueue(
        { body: requestView('running') },
        { status: 503, body: { error: { code: 'UNAVAILABLE', message: 'busy' }, requestId: 'x' } },
        { body: requestView('completed') },
      );
      await expect(hms.requests.waitFor('r1', { intervalMs: 1, timeoutMs: 1_000 })).resolves.toMatchObject({ status: 'completed' });
      expect(fake.calls).toHaveLength(3);
    });

    it('throws WaitTimeoutError with the last view when the status never comes', async () => {
      const { hms } = setup(() => ({ body: requestView('running') }));
      const error = (await hms.requests.waitFor('r1', { intervalMs: 5, timeoutMs: 30 }).catch((e: unknown) => e)) as WaitTimeoutError;
      expect(error).toBeInstanceOf(WaitTimeoutError);
      expect(error.last?.status).toBe('running');
    });

    it('stops at the given statuses and rethrows non-retryable errors when waiting', async () => {
      const { hms, fake } = setup();
      fake.enqueue({ body: requestView('running') });
      await expect(hms.requests.waitFor('r1', { statuses: ['running'] })).resolves.toMatchObject({ status: 'running' });
      fake.enqueue({ status: 404, body: { error: { code: 'NOT_FOUND', message: 'no such request' }, requestId: 'x' } });
      await expect(hms.requests.waitFor('nope', { intervalMs: 1 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });
  });

  describe('pools', () => {
    it('uses the contract paths and bodies when managing pools', async () => {
      const { hms, fake } = setup();
      await hms.pools.put('ocr', { kind: 'bot', leaseSeconds: 60, autoscale: { tasksPerReplica: 10, minReplicas: 0, maxReplicas: 5 }, workerLivenessSeconds: 20 });
      await hms.pools.get('ocr');
      await hms.pools.list();
      await hms.pools.setSla('ocr', 15);
      await hms.pools.peek('ocr', 3);
      await hms.pools.peek('ocr');
      await hms.pools.reroute('ocr', { toPool: 'ocr-es', tags: ['es'], limit: 500, reason: 'Spanish desk' });
      expect(fake.calls.map((c) => [c.method, c.path, c.json])).toEqual([
        ['PUT', '/v1/pools/ocr', { kind: 'bot', leaseSeconds: 60, autoscale: { tasksPerReplica: 10, minReplicas: 0, maxReplicas: 5 }, workerLivenessSeconds: 20 }],
        ['GET', '/v1/pools/ocr', undefined],
        ['GET', '/v1/pools', undefined],
        ['PUT', '/v1/pools/ocr/sla', { minutes: 15 }],
        ['GET', '/v1/pools/ocr/queue?limit=3', undefined],
        ['GET', '/v1/pools/ocr/queue', undefined],
        ['POST', '/v1/pools/ocr/reroute', { toPool: 'ocr-es', tags: ['es'], limit: 500, reason: 'Spanish desk' }],
      ]);
    });
  });

  describe('batch complete', () => {
    it('posts the items to /v1/tasks/complete and returns the answers per item', async () => {
      const { hms, fake } = setup();
      const results = [{ id: 't1', status: 'completed' }, { id: 't2', error: { code: 'LEASE_LOST', message: 'gone' } }];
      fake.enqueue({ body: { results } });
      const items = [
        { taskId: 't1', leaseToken: 'a', output: { ok: true } },
        { taskId: 't2', leaseToken: 'b' },
      ];
      await expect(hms.tasks.completeMany(items)).resolves.toEqual({ results });
      expect(fake.calls.map((c) => [c.method, c.path, c.json])).toEqual([['POST', '/v1/tasks/complete', { items }]]);
    });
  });

  describe('workers', () => {
    it('posts the pools to the worker heartbeat path, escaping the worker id', async () => {
      const { hms, fake } = setup();
      fake.enqueue({ body: { worker: 'ana b', pools: ['ocr'], lastSeenAt: '2026-11-21T10:00:00.000Z', livenessSeconds: 60 } });
      await expect(hms.workers.heartbeat('ana b', ['ocr'])).resolves.toMatchObject({ livenessSeconds: 60 });
      expect(fake.calls.map((c) => [c.method, c.path, c.json])).toEqual([['POST', '/v1/workers/ana%20b/heartbeat', { pools: ['ocr'] }]]);
    });
  });

  describe('tasks', () => {
    it('posts the lease body and returns the tasks when leasing', async () => {
      const { hms, fake } = setup();
      fake.enqueue({ body: { tasks: [{ id: 't1', leaseToken: 'lt' }] } });
      const result = await hms.tasks.lease('ocr', { worker: 'bot-1', tags: ['ocr'], max: 5, leaseSeconds: 60, waitSeconds: 10 });
      expect(result.tasks).toEqual([{ id: 't1', leaseToken: 'lt' }]);
      expect(fake.calls[0]).toMatchObject({ method: 'POST', path: '/v1/pools/ocr/lease', json: { worker: 'bot-1', tags: ['ocr'], max: 5, leaseSeconds: 60, waitSeconds: 10 } });
    });

    it('waits longer than the plain timeout when the lease long-polls', async () => {
      const slow: FakeRoute = () => new Promise((resolve) => setTimeout(() => resolve({ body: { tasks: [] } }), 150));
      const { hms } = setup(slow, { timeoutMs: 50 });
      await expect(hms.tasks.lease('ocr', { worker: 'w', waitSeconds: 1 })).resolves.toEqual({ tasks: [] });
      await expect(hms.tasks.lease('ocr', { worker: 'w' })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    });

    it('sends the lease token when heartbeating, completing, failing, releasing and rerouting, and none for a force-release', async () => {
      const { hms, fake } = setup();
      await hms.tasks.heartbeat('t1', 'lt');
      await hms.tasks.heartbeat('t1', 'lt', 120);
      await hms.tasks.complete('t1', 'lt', { approved: true });
      await hms.tasks.fail('t1', 'lt', { message: 'bad scan', code: 'OCR_FAILED' }, false);
      await hms.tasks.fail('t1', 'lt', { message: 'flaky' });
      await hms.tasks.release('t1', 'lt');
      await hms.tasks.release('t1');
      await hms.tasks.reroute('t1', 'supervisors', 'needs a second look');
      expect(fake.calls.map((c) => [c.method, c.path, c.json])).toEqual([
        ['POST', '/v1/tasks/t1/heartbeat', { leaseToken: 'lt' }],
        ['POST', '/v1/tasks/t1/heartbeat', { leaseToken: 'lt', extendSeconds: 120 }],
        ['POST', '/v1/tasks/t1/complete', { leaseToken: 'lt', output: { approved: true } }],
        ['POST', '/v1/tasks/t1/fail', { leaseToken: 'lt', error: { message: 'bad scan', code: 'OCR_FAILED' }, retryable: false }],
        ['POST', '/v1/tasks/t1/fail', { leaseToken: 'lt', error: { message: 'flaky' } }],
        ['POST', '/v1/tasks/t1/release', { leaseToken: 'lt' }],
        ['POST', '/v1/tasks/t1/release', {}],
        ['POST', '/v1/tasks/t1/reroute', { pool: 'supervisors', reason: 'needs a second look' }],
      ]);
    });

    it('puts the filters in the query and follows every page when listing tasks with listAll', async () => {
      const { hms, fake } = setup();
      fake.enqueue({ body: { items: [{ id: 't1' }], nextCursor: 'n' } }, { body: { items: [{ id: 't2' }], nextCursor: null } });
      const ids: string[] = [];
      for await (const task of hms.tasks.listAll({ pool: 'ocr', status: 'queued', requestId: 'r1', worker: 'w', limit: 1 })) ids.push(task.id);
      expect(ids).toEqual(['t1', 't2']);
      expect(fake.calls.map((c) => c.path)).toEqual([
        '/v1/tasks?pool=ocr&status=queued&requestId=r1&worker=w&limit=1',
        '/v1/tasks?pool=ocr&status=queued&requestId=r1&worker=w&cursor=n&limit=1',
      ]);
    });
  });

  describe('ops', () => {
    it('calls the contract paths when reading metrics, alerts and scaling decisions', async () => {
      const { hms, fake } = setup();
      fake.enqueue({ body: { pools: [{ pool: 'ocr', depth: 3 }] } });
      await expect(hms.metrics.pools()).resolves.toEqual({ pools: [{ pool: 'ocr', depth: 3 }] });
      await hms.alerts.list('open');
      await hms.alerts.list();
      fake.enqueue({ body: { items: [{ id: 'a2', status: 'open' }], nextCursor: 'c2' } });
      await expect(hms.alerts.list({ pool: 'ocr', status: 'acknowledged', limit: 5 })).resolves.toEqual({ items: [{ id: 'a2', status: 'open' }], nextCursor: 'c2' });
      await hms.alerts.ack('a1');
      await hms.alerts.resolve('a1', 'handled by phone');
      await hms.scaling.decisions('ocr');
      await hms.scaling.decisions();
      expect(fake.calls.map((c) => `${c.method} ${c.path}`)).toEqual([
        'GET /v1/metrics/pools',
        'GET /v1/alerts?status=open',
        'GET /v1/alerts',
        'GET /v1/alerts?status=acknowledged&pool=ocr&limit=5',
        'POST /v1/alerts/a1/ack',
        'POST /v1/alerts/a1/resolve',
        'GET /v1/scaling/decisions?pool=ocr',
        'GET /v1/scaling/decisions',
      ]);
    });

    it('follows every page of scaling decisions with decisionsAll', async () => {
      const { hms, fake } = setup();
      fake.enqueue({ body: { items: [{ id: 'd1' }], nextCursor: 'c' } }, { body: { items: [{ id: 'd2' }], nextCursor: null } });
      const ids: string[] = [];
      for await (const decision of hms.scaling.decisionsAll({ pool: 'ocr', limit: 1 })) ids.push(decision.id);
      expect(ids).toEqual(['d1', 'd2']);
      expect(fake.calls.map((c) => c.path)).toEqual(['/v1/scaling/decisions?pool=ocr&limit=1', '/v1/scaling/decisions?pool=ocr&cursor=c&limit=1']);
    });

    it('reads the metrics stream: pool snapshots and error events, comments and retry lines skipped', async () => {
      const { hms, fake } = setup();
      const body = [
        'retry: 2000',
        '',
        'event: pool',
        'data: {"pool":"ocr","depth":3}',
        '',
        ': keep-alive',
        '',
        'event: error',
        'data: {"error":{"code":"UNAVAILABLE","message":"ops did not answer"},"requestId":"r"}',
        '',
        'event: pool',
        'data: {"pool":"ocr","depth":2}',
        '',
        '',
      ].join('\r\n');
      fake.enqueue({ body, headers: { 'content-type': 'text/event-stream' } });
      const events = [];
      for await (const event of hms.metrics.stream({ pool: 'ocr' })) events.push(event);
      expect(events).toEqual([
        { event: 'pool', snapshot: { pool: 'ocr', depth: 3 } },
        { event: 'error', error: { code: 'UNAVAILABLE', message: 'ops did not answer' } },
        { event: 'pool', snapshot: { pool: 'ocr', depth: 2 } },
      ]);
      expect(fake.calls[0]).toMatchObject({ method: 'GET', path: '/v1/metrics/stream?pool=ocr' });
      expect(fake.calls[0]!.headers).toMatchObject({ accept: 'text/event-stream', authorization: `Bearer ${TOKEN}` });
    });

    it('throws the API error of a refused metrics stream before any event', async () => {
      const { hms, fake } = setup();
      fake.enqueue({ status: 403, body: { error: { code: 'FORBIDDEN', message: 'managers and services only' }, requestId: 'r' } });
      const stream = hms.metrics.stream();
      await expect(stream.next()).rejects.toMatchObject({ status: 403, code: 'FORBIDDEN' });
    });
  });
});
