import { forPeople, table } from './cli-format';
import { runHms as hms } from './testing/cli-harness';
import type { FakeRoute } from './testing/fake-fetch';

const poolView = {
  pool: 'desk',
  kind: 'human',
  leaseSeconds: 600,
  maxLeaseSeconds: 3600,
  slaMinutes: 30,
  maxAttempts: 3,
  autoscale: null,
  escalation: { pool: 'supervisors', afterMinutes: 5 },
  workerLivenessSeconds: 60,
  createdAt: '2026-12-06T10:00:00.000Z',
  updatedAt: '2026-12-06T10:00:00.000Z',
};

describe('hms for people and for scripts', () => {
  const pools: FakeRoute = () => ({ body: { items: [poolView, { ...poolView, pool: 'ocr', kind: 'bot', slaMinutes: null, escalation: null }] } });

  it('prints a table on a terminal, and JSON with --json or when stdout is not a terminal', async () => {
    const people = await hms(['pool', 'list'], { route: pools, isTTY: true });
    expect(people.stdout.split('\n')).toEqual([
      'POOL  KIND   LEASESECONDS  MAXLEASESECONDS  SLAMINUTES  MAXATTEMPTS  WORKERLIVENESSSECONDS  AUTOSCALE  ESCALATION',
      'desk  human  600           3600             30          3            60                     -          {"pool":"supervisors","afterMinutes":5}',
      'ocr   bot    600           3600             -           3            60                     -          -',
      '',
    ]);
    const forced = await hms(['--json', 'pool', 'list'], { route: pools, isTTY: true });
    expect(JSON.parse(forced.stdout).items).toHaveLength(2);
    const piped = await hms(['pool', 'list'], { route: pools });
    expect(JSON.parse(piped.stdout).items[0]).toEqual(poolView);
  });

  it('prints one object as field and value lines', async () => {
    const run = await hms(['pool', 'get', 'desk'], { route: () => ({ body: poolView }), isTTY: true });
    expect(run.stdout).toContain('pool                   desk\n');
    expect(run.stdout).toContain('escalation             {"pool":"supervisors","afterMinutes":5}\n');
  });

  it('prints its version', async () => {
    const run = await hms(['--version']);
    expect(run).toMatchObject({ exitCode: 0, stdout: `${(require('../package.json') as { version: string }).version}\n` });
  });

  it('renders lists with their other fields first, and an empty list as (none)', () => {
    expect(forPeople({ pool: 'desk', depth: 0, tasks: [] })).toBe('pool   desk\ndepth  0\n\n(none)\n');
    expect(forPeople({ items: [{ a: 1 }], nextCursor: null })).toBe('A\n1\n');
    expect(forPeople({ items: [{ a: 1 }], nextCursor: 'c2' })).toBe('nextCursor  c2\n\nA\n1\n');
    expect(table([{ message: 'x'.repeat(100) }])).toBe(`MESSAGE\n${'x'.repeat(59)}…\n`);
  });

  describe('pool settings, SLA and reroute', () => {
    it('changes one setting of a pool and sends the others as they were', async () => {
      const route: FakeRoute = (call) => ({ body: call.method === 'GET' ? poolView : { ...poolView, ...(call.json as object) } });
      const run = await hms(['pool', 'set', 'desk', '--lease-seconds', '900'], { route });
      expect(run.exitCode).toBe(0);
      expect(run.fake.calls.map((c) => `${c.method} ${c.path}`)).toEqual(['GET /v1/pools/desk', 'PUT /v1/pools/desk']);
      expect(run.fake.calls[1].json).toEqual({ kind: 'human', leaseSeconds: 900, maxLeaseSeconds: 3600, maxAttempts: 3, slaMinutes: 30, escalation: { pool: 'supervisors', afterMinutes: 5 } });
      const capped = await hms(['pool', 'set', 'desk', '--max-lease-seconds', '7200'], { route });
      expect(capped.fake.calls[1].json).toMatchObject({ leaseSeconds: 600, maxLeaseSeconds: 7200 });
      const refused = await hms(['pool', 'set', 'desk', '--max-lease-seconds', '0'], { route });
      expect(refused.exitCode).not.toBe(0);
      expect(refused.fake.calls).toHaveLength(0);
    });

    it('creates a pool with --kind, and refuses a new pool without one', async () => {
      const missing: FakeRoute = (call) =>
        call.method === 'GET' ? { status: 404, body: { error: { code: 'NOT_FOUND', message: 'no pool' }, requestId: 'r' } } : { body: { ...poolView, pool: 'new_desk' } };
      const created = await hms(['pool', 'set', 'new_desk', '--kind', 'bot', '--autoscale', '{"tasksPerReplica":10,"minReplicas":0,"maxReplicas":4}'], { route: missing });
      expect(created.fake.calls[1]).toMatchObject({ method: 'PUT', path: '/v1/pools/new_desk', json: { kind: 'bot', autoscale: { tasksPerReplica: 10, minReplicas: 0, maxReplicas: 4 } } });
      const refused = await hms(['pool', 'set', 'new_desk', '--lease-seconds', '60'], { route: missing });
      expect(refused).toMatchObject({ exitCode: 1, stderr: expect.stringContaining('give its --kind') });
      expect(refused.fake.calls).toHaveLength(1);
    });

    it('sets the SLA of a pool, refusing a minute count that is not above 0 without calling', async () => {
      const run = await hms(['pool', 'sla', 'desk', '45'], { route: () => ({ body: poolView }) });
      expect(run.fake.calls[0]).toMatchObject({ method: 'PUT', path: '/v1/pools/desk/sla', json: { minutes: 45 } });
      const refused = await hms(['pool', 'sla', 'desk', '-5']);
      expect(refused.exitCode).toBe(1);
      expect(refused.fake.calls).toHaveLength(0);
    });

    it('reroutes the matching queued tasks of a pool, and one task', async () => {
      const run = await hms(['pool', 'reroute', 'desk', '--to', 'night_desk', '--tags', 'spanish', '--min-priority', '5', '--limit', '10', '--reason', 'night shift'], {
        route: () => ({ body: { fromPool: 'desk', toPool: 'night_desk', moved: 2, taskIds: ['a', 'b'], more: false } }),
      });
      expect(run.fake.calls[0]).toMatchObject({
        method: 'POST',
        path: '/v1/pools/desk/reroute',
        json: { toPool: 'night_desk', tags: ['spanish'], minPriority: 5, limit: 10, reason: 'night shift' },
      });
      const one = await hms(['task', 'reroute', 't1', 'night_desk', '--reason', 'speaks Spanish'], { route: () => ({ body: { id: 't1', pool: 'night_desk' } }) });
      expect(one.fake.calls[0]).toMatchObject({ method: 'POST', path: '/v1/tasks/t1/reroute', json: { pool: 'night_desk', reason: 'speaks Spanish' } });
    });
  });
});
