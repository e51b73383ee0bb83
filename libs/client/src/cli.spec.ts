import { buildCli } from './cli';
import { runHms as hms } from './testing/cli-harness';
import type { FakeRoute } from './testing/fake-fetch';

describe(buildCli.name, () => {
  it('returns a commander program with the documented commands when built', () => {
    const names = buildCli().commands.map((c) => c.name());
    expect(names).toEqual(expect.arrayContaining(['token', 'plan', 'request', 'pool', 'task', 'work', 'metrics', 'scaling', 'alert', 'parked']));
  });

  describe('alert', () => {
    it('lists with filters, acknowledges and resolves through the alert paths', async () => {
      const route: FakeRoute = () => ({ body: { items: [], nextCursor: null } });
      const listed = await hms(['alert', 'list', '--status', 'open', '--pool', 'desk', '--limit', '5'], { route });
      expect(listed.fake.calls[0]).toMatchObject({ method: 'GET', path: '/v1/alerts?status=open&pool=desk&limit=5' });
      const acked = await hms(['alert', 'ack', 'a1'], { route: () => ({ body: { id: 'a1', status: 'acknowledged' } }) });
      expect(acked.fake.calls[0]).toMatchObject({ method: 'POST', path: '/v1/alerts/a1/ack' });
      const resolved = await hms(['alert', 'resolve', 'a1', '--reason', 'called the applicant'], { route: () => ({ body: { id: 'a1', status: 'resolved' } }) });
      expect(resolved.fake.calls[0]).toMatchObject({ method: 'POST', path: '/v1/alerts/a1/resolve', json: { reason: 'called the applicant' } });
    });

    it('refuses a status that is not an alert status without calling the gateway', async () => {
      const run = await hms(['alert', 'list', '--status', 'closed']);
      expect(run.exitCode).toBe(1);
      expect(run.fake.calls).toHaveLength(0);
    });
  });

  describe('parked', () => {
    const parkedEvent = { id: 'p1', service: 'oms', consumer: 'oms', type: 'act.step.ready', data: { pool: 'desk' }, lastError: 'boom', deliveryCount: 6 };

    it('lists a service\'s parked events and replays one through the parked-event paths', async () => {
      const listed = await hms(['parked', 'list', 'oms', '--limit', '5'], { route: () => ({ body: { items: [parkedEvent], nextCursor: null } }) });
      expect(listed.fake.calls[0]).toMatchObject({ method: 'GET', path: '/v1/parked-events?service=oms&limit=5' });
      expect(JSON.parse(listed.stdout).items[0]).toMatchObject({ type: 'act.step.ready', data: { pool: 'desk' }, lastError: 'boom' });
      const replayed = await hms(['parked', 'replay', 'oms', 'p1'], { route: () => ({ body: { replayed: true, parkedEvent: null } }) });
      expect(replayed.fake.calls[0]).toMatchObject({ method: 'POST', path: '/v1/parked-events/oms/p1/replay' });
      expect(replayed.exitCode).toBe(0);
    });

    it('exits 1 with the new error when the replay failed again', async () => {
      const run = await hms(['parked', 'replay', 'oms', 'p1'], { route: () => ({ body: { replayed: false, parkedEvent: { ...parkedEvent, lastError: 'still broken' } } }) });
      expect(run.exitCode).toBe(1);
      expect(JSON.parse(run.stdout).parkedEvent.lastError).toBe('still broken');
    });

    it('refuses a service that is not one of act, oms, ops without calling the gateway', async () => {
      const run = await hms(['parked', 'list', 'gateway']);
      expect(run.exitCode).toBe(1);
      expect(run.fake.calls).toHaveLength(0);
    });
  });

  describe('metrics and scaling', () => {
    it('prints one JSON line per streamed snapshot with --watch, and stops after --count', async () => {
      const stream = ['event: pool', 'data: {"pool":"desk","depth":4}', '', 'event: pool', 'data: {"pool":"desk","depth":3}', '', 'event: pool', 'data: {"pool":"desk","depth":1}', '', ''].join('\n');
      const run = await hms(['metrics', '--watch', '--pool', 'desk', '--count', '2'], { route: () => ({ body: stream }) });
      expect(run.fake.calls[0]).toMatchObject({ method: 'GET', path: '/v1/metrics/stream?pool=desk' });
      expect(run).toMatchObject({ exitCode: 0, stderr: '', stdout: '{"pool":"desk","depth":4}\n{"pool":"desk","depth":3}\n' });
    });

    it('filters the one-off snapshot by --pool', async () => {
      const run = await hms(['metrics', '--pool', 'desk'], { route: () => ({ body: { pools: [{ pool: 'desk', depth: 1 }, { pool: 'ocr', depth: 9 }] } }) });
      expect(JSON.parse(run.stdout)).toEqual({ pools: [{ pool: 'desk', depth: 1 }] });
    });

    it('lists scaling decisions with their filters', async () => {
      const run = await hms(['scaling', '--pool', 'desk', '--limit', '3'], { route: () => ({ body: { items: [], nextCursor: null } }) });
      expect(run.fake.calls[0]).toMatchObject({ method: 'GET', path: '/v1/scaling/decisions?pool=desk&limit=3' });
      expect(JSON.parse(run.stdout)).toEqual({ items: [], nextCursor: null });
    });
  });

  describe('token', () => {
    it('prints one error line and exits 1 when there is no secret', async () => {
      const run = await hms(['token', '--role', 'service']);
      expect(run).toMatchObject({ exitCode: 1, stdout: '' });
      expect(run.stderr).toBe('error: USAGE no signing secret: pass --secret or set HMS_JWT_SECRET\n');
    });

    it('exits 1 when the role is not one of the known roles', async () => {
      const run = await hms(['token', '--role', 'root', '--secret', 's']);
      expect(run.exitCode).toBe(1);
      expect(run.stderr).toContain("error: option '--role <role>' argument 'root' is invalid");
    });
  });

  describe('gateway commands', () => {
    it('uses --url and --token when given and prints the answer as pretty JSON', async () => {
      const run = await hms(['--url', 'http://gw:8080', '--token', 'jwt-1', 'request', 'get', 'r1'], {
        env: { HMS_URL: 'http://ignored', HMS_TOKEN: 'ignored' },
        route: () => ({ body: { id: 'r1', status: 'running' } }),
      });
      expect(run.fake.calls[0]).toMatchObject({ method: 'GET', url: 'http://gw:8080/v1/requests/r1' });
      expect(run.fake.calls[0].headers.authorization).toBe('Bearer jwt-1');
      expect(run.stdout).toBe(`${JSON.stringify({ id: 'r1', status: 'running' }, null, 2)}\n`);
    });

    it('shows a task with its input', async () => {
      const body = { id: 't1', payload: { ticket: 'T-1' }, input: { passportNo: '987654321' } };
      const run = await hms(['task', 'get', 't1'], { route: () => ({ body }) });
      expect(run.fake.calls[0]).toMatchObject({ method: 'GET', url: 'http://localhost:3000/v1/tasks/t1' });
      expect(JSON.parse(run.stdout)).toEqual(body);
    });

    it('releases a task with its lease token, or force-releases it without one', async () => {
      const route: FakeRoute = () => ({ body: { id: 't1', status: 'queued' } });
      const withToken = await hms(['task', 'release', 't1', '--lease-token', 'lt'], { route });
      expect(withToken.fake.calls[0]).toMatchObject({ method: 'POST', path: '/v1/tasks/t1/release', json: { leaseToken: 'lt' } });
      const forced = await hms(['task', 'release', 't1'], { route });
      expect(forced.fake.calls[0]).toMatchObject({ method: 'POST', path: '/v1/tasks/t1/release', json: {} });
      expect(JSON.parse(forced.stdout)).toEqual({ id: 't1', status: 'queued' });
    });

    it('falls back to HMS_URL and HMS_TOKEN, then to localhost:3000, when no options are given', async () => {
      const fromEnv = await hms(['metrics'], { env: { HMS_URL: 'http://env:1', HMS_TOKEN: 'env-jwt' } });
      expect(fromEnv.fake.calls[0].url).toBe('http://env:1/v1/metrics/pools');
      expect(fromEnv.fake.calls[0].headers.authorization).toBe('Bearer env-jwt');
      const fallback = await hms(['plan', 'list']);
      expect(fallback.fake.calls[0].url).toBe('http://localhost:3000/v1/plans');
    });

    it('prints CODE message and exits 1 when the gateway answers an error', async () => {
      const run = await hms(['request', 'verify', 'nope'], {
        route: () => ({ status: 404, body: { error: { code: 'NOT_FOUND', message: "request 'nope' was not found" }, requestId: 'q' } }),
      });
      expect(run).toMatchObject({ exitCode: 1, stdout: '', stderr: "error: NOT_FOUND request 'nope' was not found\n" });
      expect(run.fake.calls[0].path).toBe('/v1/requests/nope/history/verify');
    });

    it('puts every validation detail on the one error line when a plan is rejected', async () => {
      const run = await hms(['plan', 'register', 'bad.plan.yaml'], {
        files: { 'bad.plan.yaml': 'id: x\n' },
        route: () => ({
          status: 400,
          body: {
            error: { code: 'VALIDATION_FAILED', message: 'plan is invalid', details: [{ path: 'steps', message: 'is required' }, { path: '', message: 'two' }] },
            requestId: 'q',
          },
        }),
      });
      expect(run.stderr).toBe('error: VALIDATION_FAILED plan is invalid (steps: is required; two)\n');
    });

    it('sends YAML files as YAML and JSON files as JSON when registering plans', async () => {
      const yaml = 'id: p\nsteps:\n  - id: a\n    pool: q\n';
      const files = { 'p.plan.yaml': yaml, 'p.plan.json': '{"id":"p","steps":[{"id":"a","pool":"q"}]}' };
      const route: FakeRoute = () => ({ status: 201, body: { id: 'p', version: 1 } });
      const fromYaml = await hms(['plan', 'register', 'p.plan.yaml'], { files, route });
      expect(fromYaml.fake.calls[0].headers['content-type']).toBe('application/yaml');
      expect(fromYaml.fake.calls[0].body).toBe(yaml);
      expect(JSON.parse(fromYaml.stdout)).toEqual({ id: 'p', version: 1, created: true });
      const fromJson = await hms(['plan', 'register', 'p.plan.json'], { files, route });
      expect(fromJson.fake.calls[0].headers['content-type']).toBe('application/json');
      expect(fromJson.fake.calls[0].json).toEqual({ id: 'p', steps: [{ id: 'a', pool: 'q' }] });
    });

    it('names a plan file without id with --id', async () => {
      const files = { 'repairWorkflow.json': '{"steps":[{"task":"assessSeverity","agent":"SeverityAgent"}],"slaHours":48}' };
      const route: FakeRoute = () => ({ status: 201, body: { id: 'pothole_repair', version: 1 } });
      const run = await hms(['plan', 'register', 'repairWorkflow.json', '--id', 'pothole_repair'], { files, route });
      expect(run.fake.calls[0].path).toBe('/v1/plans?id=pothole_repair');
      expect(run.fake.calls[0].json).toEqual({ steps: [{ task: 'assessSeverity', agent: 'SeverityAgent' }], slaHours: 48 });
    });

    it('exits 1 without calling the gateway when the plan file is missing', async () => {
      const run = await hms(['plan', 'register', 'missing.yaml']);
      expect(run.exitCode).toBe(1);
      expect(run.stderr).toMatch(/^error: ENOENT /);
      expect(run.fake.calls).toHaveLength(0);
    });

    it('posts the parsed payload and reference when creating a request', async () => {
      const run = await hms(['request', 'create', 'passport_renewal', '--payload', '{"name":"Ada"}', '--reference', 'T-9', '--idempotency-key', 'k'], {
        route: () => ({ status: 201, body: { id: 'r1', plan: 'passport_renewal', version: 1, status: 'running', createdAt: 't', slaDueAt: null } }),
      });
      expect(run.exitCode).toBe(0);
      expect(run.fake.calls[0]).toMatchObject({ method: 'POST', path: '/v1/requests', json: { plan: 'passport_renewal', payload: { name: 'Ada' }, reference: 'T-9' } });
      expect(run.fake.calls[0].headers['idempotency-key']).toBe('k');
      expect(JSON.parse(run.stdout)).toMatchObject({ id: 'r1', created: true });
    });

    it('exits 1 without calling the gateway when --payload is not JSON', async () => {
      const run = await hms(['request', 'create', 'p', '--payload', '{oops']);
      expect(run.exitCode).toBe(1);
      expect(run.stderr).toContain('--payload is not valid JSON');
      expect(run.fake.calls).toHaveLength(0);
    });

    it('prints the whole ledger across pages when asked for history', async () => {
      const fake = [
        { body: { items: [{ seq: 1 }], nextCursor: 'c' } },
        { body: { items: [{ seq: 2 }], nextCursor: null } },
      ];
      const run = await hms(['request', 'history', 'r1'], { route: () => fake.shift()! });
      expect(JSON.parse(run.stdout)).toEqual([{ seq: 1 }, { seq: 2 }]);
      expect(run.fake.calls.map((c) => c.path)).toEqual(['/v1/requests/r1/history', '/v1/requests/r1/history?cursor=c']);
    });

    it('prints the queue head when peeking a pool', async () => {
      const run = await hms(['pool', 'peek', 'ocr', '--limit', '5'], { route: () => ({ body: { pool: 'ocr', depth: 0, tasks: [] } }) });
      expect(run.fake.calls[0].path).toBe('/v1/pools/ocr/queue?limit=5');
      expect(JSON.parse(run.stdout)).toEqual({ pool: 'ocr', depth: 0, tasks: [] });
    });
  });

  describe('work', () => {
    it('leases, completes and prints --count tasks when given --output, each next task leased by the complete before it', async () => {
      let n = 0;
      const leased = () => {
        n++;
        return { id: `t${n}`, requestId: 'r', stepId: 's', title: 'T', tags: [], payload: {}, attempt: 1, leaseToken: `l${n}`, leaseExpiresAt: 'x' };
      };
      // The queue runs dry after t2: the complete of t2 carries no task, so t3 takes a lease call.
      const route: FakeRoute = (call) => {
        if (call.path.endsWith('/lease')) return { body: { tasks: [leased()] } };
        const next = (call.json as { next?: unknown }).next ? { next: { tasks: n < 2 ? [leased()] : [] } } : {};
        return { body: { id: call.path.split('/')[3], status: 'completed', ...next } };
      };
      const run = await hms(['work', 'ocr', '--worker', 'bot-1', '--tags', 'ocr,de', '--output', '{"approved":true}', '--count', '3'], { route });
      expect(run).toMatchObject({ exitCode: 0, stderr: '' });
      const asked = { worker: 'bot-1', tags: ['ocr', 'de'], max: 1 };
      expect(run.fake.calls.map((c) => [c.path, c.json])).toEqual([
        ['/v1/pools/ocr/lease', { ...asked, waitSeconds: 20 }],
        ['/v1/tasks/t1/complete', { leaseToken: 'l1', output: { approved: true }, next: { pool: 'ocr', ...asked } }],
        ['/v1/tasks/t2/complete', { leaseToken: 'l2', output: { approved: true }, next: { pool: 'ocr', ...asked } }],
        ['/v1/pools/ocr/lease', { ...asked, waitSeconds: 20 }],
        ['/v1/tasks/t3/complete', { leaseToken: 'l3', output: { approved: true } }],
      ]);
      expect(run.stdout.match(/"result"/g)).toHaveLength(3);
      const person = await hms(['work', 'ocr', '--worker', 'bot-1', '--count', '1'], { route, isTTY: true });
      expect(person.stdout).toBe('completed task t4 (s: T) of request r\n');
    });

    it('stops with a note on stderr when no task arrives within --wait', async () => {
      const run = await hms(['work', 'ocr', '--worker', 'w', '--wait', '0'], { route: () => ({ body: { tasks: [] } }) });
      expect(run).toMatchObject({ exitCode: 0, stdout: '' });
      expect(run.stderr).toBe('no task in pool ocr within 0s; completed 0 of 1\n');
    });

    it('exits 1 when --worker is missing', async () => {
      const run = await hms(['work', 'ocr']);
      expect(run.exitCode).toBe(1);
      expect(run.stderr).toContain("error: required option '--worker <id>' not specified");
    });
  });
});
