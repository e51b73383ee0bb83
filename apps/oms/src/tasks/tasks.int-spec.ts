import { randomUUID } from 'node:crypto';
import { POOL_DEFAULTS } from '@hms/contracts';
import { eventually, OmsHarness } from '../testing/oms-harness';

jest.setTimeout(60_000);

describe('OMS tasks and pools', () => {
  let oms: OmsHarness;
  const pool = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    oms = await OmsHarness.start('oms_tasks');
  });

  afterAll(async () => {
    await oms?.close();
  });

  describe('act.step.ready', () => {
    it('queues the task in a pool created on first use with the defaults', async () => {
      const p = pool('fresh');
      const { requestId, stepId } = await oms.stepReady({ pool: p, title: 'Verify', tags: ['ocr'], priority: 4, payload: { doc: 7 } });
      const task = await oms.waitForTask(requestId, stepId);
      expect(task).toMatchObject({
        requestId,
        stepId,
        pool: p,
        title: 'Verify',
        tags: ['ocr'],
        priority: 4,
        status: 'queued',
        attempt: 0,
        maxAttempts: POOL_DEFAULTS.maxAttempts,
        payload: { doc: 7 },
        output: null,
        worker: null,
        slaDueAt: null,
      });
      expect(await oms.call('oms.pool.get', { pool: p })).toMatchObject({ pool: p, ...POOL_DEFAULTS, slaMinutes: null });
      const queued = await oms.waitForEvent('oms.task.queued', (e) => e.data.taskId === task.id);
      expect(queued).toMatchObject({ requestId, source: 'oms', data: { stepId, pool: p, priority: 4, tags: ['ocr'], attempt: 0, slaDueAt: null } });
      await oms.waitForEvent('oms.pool.updated', (e) => e.data.pool === p);
    });

    it('queues a (request, step) once, however often it is announced', async () => {
      const p = pool('dup');
      const first = await oms.stepReady({ pool: p, stepId: 'same' });
      await oms.stepReady({ pool: p, stepId: 'same' }, first.requestId); // new event id, same step
      const task = await oms.waitForTask(first.requestId, 'same');
      await new Promise((resolve) => setTimeout(resolve, 500));
      const { items } = await oms.call('oms.task.list', { requestId: first.requestId });
      expect(items.map((t) => t.id)).toEqual([task.id]);
      expect(oms.events.filter((e) => e.type === 'oms.task.queued' && e.requestId === first.requestId)).toHaveLength(1);
    });

    it("takes lease length, attempts and SLA from the step, else from the pool", async () => {
      const p = pool('inherit');
      await oms.call('oms.pool.upsert', { pool: p, kind: 'bot', leaseSeconds: 40, maxAttempts: 7, slaMinutes: 30 });
      const inherited = await oms.queueTask({ pool: p });
      expect(inherited.maxAttempts).toBe(7);
      expect(Date.parse(inherited.slaDueAt!) - Date.parse(inherited.queuedAt)).toBe(30 * 60_000);

      const own = await oms.queueTask({ pool: p, leaseSeconds: 5, slaMinutes: 2, retry: { attempts: 2, backoffSeconds: 1 } });
      expect(own.maxAttempts).toBe(2);
      expect(Date.parse(own.slaDueAt!) - Date.parse(own.queuedAt)).toBe(2 * 60_000);

      const { tasks } = await oms.call('oms.task.lease', { pool: p, worker: 'bot', max: 2 });
      const expiresIn = Object.fromEntries(tasks.map((t) => [t.id, Date.parse(t.leaseExpiresAt) - Date.now()]));
      expect(expiresIn[inherited.id]).toBeGreaterThan(35_000);
      expect(expiresIn[inherited.id]).toBeLessThanOrEqual(40_000);
      expect(expiresIn[own.id]).toBeLessThanOrEqual(5_000);

      const asked = await oms.queueTask({ pool: p });
      const { tasks: custom } = await oms.call('oms.task.lease', { pool: p, worker: 'bot', leaseSeconds: 900 });
      expect(custom[0]!.id).toBe(asked.id);
      expect(Date.parse(custom[0]!.leaseExpiresAt) - Date.now()).toBeGreaterThan(890_000);
    });

    it('applies a changed pool SLA to tasks queued from then on', async () => {
      const p = pool('sla');
      const before = await oms.queueTask({ pool: p });
      expect(before.slaDueAt).toBeNull();
      expect(await oms.call('oms.pool.set-sla', { pool: p, minutes: 15 })).toMatchObject({ pool: p, slaMinutes: 15 });
      const after = await oms.queueTask({ pool: p });
      expect(Date.parse(after.slaDueAt!) - Date.parse(after.queuedAt)).toBe(15 * 60_000);
      expect((await oms.call('oms.task.get', { id: before.id })).slaDueAt).toBeNull();
    });
  });

  describe('act.request.cancelled', () => {
    it('cancels the open tasks of the request and revokes their leases', async () => {
      const p = pool('cancel');
      const requestId = randomUUID();
      // Priorities, not arrival: the three may be queued within one millisecond, and then their
      // lease order would fall to their random ids.
      await oms.stepReady({ pool: p, stepId: 'a', priority: 2 }, requestId);
      await oms.stepReady({ pool: p, stepId: 'b', priority: 1 }, requestId);
      await oms.stepReady({ pool: p, stepId: 'c', priority: 0 }, requestId);
      const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((s) => oms.waitForTask(requestId, s)));
      const { tasks } = await oms.call('oms.task.lease', { pool: p, worker: 'w', max: 2 });
      const leasedA = tasks.find((t) => t.id === a!.id)!;
      const leasedB = tasks.find((t) => t.id === b!.id)!;
      await oms.call('oms.task.complete', { taskId: b!.id, leaseToken: leasedB.leaseToken, output: {} });
      const other = await oms.queueTask({ pool: p }); // another request's task stays

      await oms.publishActEvent('act.request.cancelled', requestId, { plan: 'p', reason: 'citizen withdrew' });
      await eventually(async () => ((await oms.call('oms.task.get', { id: c!.id })).status === 'cancelled' ? true : undefined));
      expect((await oms.call('oms.task.get', { id: a!.id })).status).toBe('cancelled');
      expect((await oms.call('oms.task.get', { id: b!.id })).status).toBe('completed');
      expect((await oms.call('oms.task.get', { id: other.id })).status).toBe('queued');
      expect((await oms.failure('oms.task.complete', { taskId: a!.id, leaseToken: leasedA.leaseToken, output: {} })).code).toBe('LEASE_LOST');

      const cancelledA = await oms.waitForEvent('oms.task.cancelled', (e) => e.data.taskId === a!.id);
      const leasedEvent = await oms.waitForEvent('oms.task.leased', (e) => e.data.taskId === a!.id);
      expect(cancelledA.data).toMatchObject({ reason: 'citizen withdrew', leaseId: leasedEvent.data.leaseId, pool: p });
      expect((await oms.waitForEvent('oms.task.cancelled', (e) => e.data.taskId === c!.id)).data.leaseId).toBeNull();
      expect(oms.events.filter((e) => e.type === 'oms.task.cancelled' && e.requestId === requestId)).toHaveLength(2);
    });
  });

  describe('ops.alert.escalated and ops.alert.resolved', () => {
    it('queues the escalation task in the escalation pool, keeps it when its request is cancelled, and cancels it when the alert resolves', async () => {
      const desk = pool('desk');
      const supervisors = pool('supervisors');
      const { requestId } = await oms.stepReady({ pool: desk, stepId: 'review' });
      const review = await oms.waitForTask(requestId, 'review');
      const alertId = randomUUID();
      const escalated = {
        alertId,
        kind: 'task-dead' as const,
        pool: desk,
        taskId: review.id,
        stepId: 'review',
        message: 'Task review is dead',
        escalationPool: supervisors,
        webhook: null,
      };
      await oms.publishEvent('ops', 'ops.alert.escalated', requestId, escalated);
      const escalation = await oms.waitForTask(requestId, `escalation:${alertId}`);
      expect(escalation).toMatchObject({ pool: supervisors, status: 'queued', title: 'Escalation: Task review is dead', payload: { alertId, kind: 'task-dead', pool: desk, taskId: review.id } });
      // The same escalation announced again (a relay re-publish) queues nothing more.
      await oms.publishEvent('ops', 'ops.alert.escalated', requestId, escalated);

      await oms.publishActEvent('act.request.cancelled', requestId, { plan: 'p', reason: 'citizen withdrew' });
      await eventually(async () => ((await oms.call('oms.task.get', { id: review.id })).status === 'cancelled' ? true : undefined));
      expect((await oms.call('oms.task.get', { id: escalation.id })).status).toBe('queued');

      await oms.publishEvent('ops', 'ops.alert.resolved', requestId, { alertId, kind: 'task-dead', resolution: 'handled by phone' });
      const cancelled = await oms.waitForEvent('oms.task.cancelled', (e) => e.data.taskId === escalation.id);
      expect(cancelled.data).toMatchObject({ pool: supervisors, reason: 'alert resolved: handled by phone', leaseId: null });
      expect((await oms.call('oms.task.get', { id: escalation.id })).status).toBe('cancelled');
      expect((await oms.call('oms.task.list', { requestId })).items.filter((t) => t.stepId === `escalation:${alertId}`)).toHaveLength(1);
    });
  });

  describe('oms.task.reroute', () => {
    it('moves a queued task to another pool', async () => {
      const from = pool('from');
      const to = pool('to');
      const task = await oms.queueTask({ pool: from });
      const moved = await oms.call('oms.task.reroute', { taskId: task.id, pool: to, reason: 'needs a specialist' });
      expect(moved).toMatchObject({ id: task.id, pool: to, status: 'queued', attempt: 0 });
      expect((await oms.call('oms.task.lease', { pool: from, worker: 'w' })).tasks).toEqual([]);
      expect((await oms.call('oms.task.lease', { pool: to, worker: 'w' })).tasks.map((t) => t.id)).toEqual([task.id]);
      const event = await oms.waitForEvent('oms.task.rerouted', (e) => e.data.taskId === task.id);
      expect(event.data).toMatchObject({ fromPool: from, toPool: to, reason: 'needs a specialist' });
      expect(await oms.call('oms.pool.get', { pool: to })).toMatchObject({ pool: to, kind: POOL_DEFAULTS.kind });
    });

    it('revokes the lease of a leased task and gives its attempt back', async () => {
      const from = pool('from');
      const to = pool('to');
      const task = await oms.queueTask({ pool: from });
      const [leased] = (await oms.call('oms.task.lease', { pool: from, worker: 'w' })).tasks;
      const moved = await oms.call('oms.task.reroute', { taskId: task.id, pool: to });
      expect(moved).toMatchObject({ status: 'queued', attempt: 0, worker: null, leaseExpiresAt: null, pool: to });
      expect((await oms.failure('oms.task.complete', { taskId: task.id, leaseToken: leased!.leaseToken, output: {} })).code).toBe('LEASE_LOST');
      expect((await oms.call('oms.task.lease', { pool: to, worker: 'w2' })).tasks[0]).toMatchObject({ id: task.id, attempt: 1 });
    });

    it('refuses to move a finished task, or to its own pool', async () => {
      const p = pool('done');
      const task = await oms.queueTask({ pool: p });
      expect((await oms.failure('oms.task.reroute', { taskId: task.id, pool: p })).code).toBe('CONFLICT');
      const [leased] = (await oms.call('oms.task.lease', { pool: p, worker: 'w' })).tasks;
      await oms.call('oms.task.complete', { taskId: task.id, leaseToken: leased!.leaseToken, output: {} });
      expect((await oms.failure('oms.task.reroute', { taskId: task.id, pool: pool('x') })).code).toBe('CONFLICT');
      expect((await oms.failure('oms.task.reroute', { taskId: randomUUID(), pool: pool('x') })).code).toBe('NOT_FOUND');
    });
  });

  describe('oms.queue.reroute (bulk)', () => {
    it('moves the queued tasks matching every filter, best first, and leaves the rest', async () => {
      const from = pool('bulk-from');
      const to = pool('bulk-to');
      const es1 = await oms.queueTask({ pool: from, tags: ['es', 'ocr'], stepId: 'scan', priority: 2 });
      const es2 = await oms.queueTask({ pool: from, tags: ['es'], stepId: 'scan', priority: 5 });
      const esOtherStep = await oms.queueTask({ pool: from, tags: ['es'], stepId: 'review', priority: 5 });
      const esLowPriority = await oms.queueTask({ pool: from, tags: ['es'], stepId: 'scan', priority: 0 });
      const english = await oms.queueTask({ pool: from, tags: ['en'], stepId: 'scan', priority: 5 });
      const esLeased = await oms.queueTask({ pool: from, tags: ['es'], stepId: 'scan', priority: 9 });
      const [held] = (await oms.call('oms.task.lease', { pool: from, worker: 'busy', max: 1 })).tasks;
      expect(held!.id).toBe(esLeased.id);

      const result = await oms.call('oms.queue.reroute', { pool: from, toPool: to, tags: ['es'], stepId: 'scan', minPriority: 1, reason: 'Spanish desk' });
      expect(result).toEqual({ fromPool: from, toPool: to, moved: 2, taskIds: [es2.id, es1.id], more: false });

      const peekTo = await oms.call('oms.queue.peek', { pool: to });
      expect(peekTo.tasks.map((t) => t.id)).toEqual([es2.id, es1.id]);
      const peekFrom = await oms.call('oms.queue.peek', { pool: from });
      expect(peekFrom.tasks.map((t) => t.id).sort()).toEqual([esOtherStep.id, english.id, esLowPriority.id].sort());
      expect(await oms.call('oms.task.get', { id: esLeased.id })).toMatchObject({ pool: from, status: 'leased', worker: 'busy' });

      const event = await oms.waitForEvent('oms.task.rerouted', (e) => e.data.taskId === es1.id);
      expect(event.data).toEqual({ taskId: es1.id, stepId: 'scan', fromPool: from, toPool: to, reason: 'Spanish desk' });
      expect(event.requestId).toBe(es1.requestId);
      expect(event.actor).toBe('test-manager');
    });

    it('moves at most limit per call and says when more match', async () => {
      const from = pool('bulk-big');
      const to = pool('bulk-dest');
      for (let i = 0; i < 5; i++) await oms.stepReady({ pool: from });
      await eventually(async () => ((await oms.call('oms.queue.peek', { pool: from })).depth === 5 ? true : undefined));
      const first = await oms.call('oms.queue.reroute', { pool: from, toPool: to, limit: 3 });
      expect(first).toMatchObject({ moved: 3, more: true });
      const second = await oms.call('oms.queue.reroute', { pool: from, toPool: to, limit: 3 });
      expect(second).toMatchObject({ moved: 2, more: false });
      expect(new Set([...first.taskIds, ...second.taskIds]).size).toBe(5);
      expect((await oms.call('oms.queue.peek', { pool: to })).depth).toBe(5);
    });

    it('wakes a worker long-polling the destination pool', async () => {
      const from = pool('bulk-wake-from');
      const to = pool('bulk-wake-to');
      const task = await oms.queueTask({ pool: from });
      const waiting = oms.call('oms.task.lease', { pool: to, worker: 'waiter', waitSeconds: 10 });
      await new Promise((resolve) => setTimeout(resolve, 200));
      await oms.call('oms.queue.reroute', { pool: from, toPool: to });
      expect((await waiting).tasks.map((t) => t.id)).toEqual([task.id]);
    });

    it('refuses an unknown source pool, the same pool, and bad input', async () => {
      const p = pool('bulk-bad');
      await oms.queueTask({ pool: p });
      expect((await oms.failure('oms.queue.reroute', { pool: pool('nowhere'), toPool: p })).code).toBe('NOT_FOUND');
      expect((await oms.failure('oms.queue.reroute', { pool: p, toPool: p })).code).toBe('CONFLICT');
      expect((await oms.failure('oms.queue.reroute', { pool: p, toPool: 'Not A Pool' })).code).toBe('VALIDATION_FAILED');
      expect((await oms.failure('oms.queue.reroute', { pool: p, toPool: pool('x'), limit: 0 })).code).toBe('VALIDATION_FAILED');
      expect((await oms.call('oms.queue.peek', { pool: p })).depth).toBe(1);
    });
  });

  describe('reads', () => {
    it('peeks at a queue in lease order without leasing', async () => {
      const p = pool('peek');
      const low = await oms.queueTask({ pool: p, priority: 1, title: 'low' });
      const high = await oms.queueTask({ pool: p, priority: 8, title: 'high' });
      const older = await oms.queueTask({ pool: p, priority: 0, title: 'older' });
      const newer = await oms.queueTask({ pool: p, priority: 0, title: 'newer' });

      const peek = await oms.call('oms.queue.peek', { pool: p });
      expect(peek.pool).toBe(p);
      expect(peek.depth).toBe(4);
      expect(peek.tasks.map((t) => [t.id, t.title, t.status, t.priority])).toEqual([
        [high.id, 'high', 'queued', 8],
        [low.id, 'low', 'queued', 1],
        [older.id, 'older', 'queued', 0],
        [newer.id, 'newer', 'queued', 0],
      ]);
      expect(peek.tasks[0]).toEqual({ id: high.id, requestId: high.requestId, stepId: high.stepId, title: 'high', status: 'queued', priority: 8, slaDueAt: null, queuedAt: high.queuedAt });
      expect((await oms.call('oms.queue.peek', { pool: p, limit: 2 })).tasks.map((t) => t.id)).toEqual([high.id, low.id]);

      // Peeking took no lease: the lease gets the same head of the queue.
      expect((await oms.call('oms.task.lease', { pool: p, worker: 'w' })).tasks.map((t) => t.id)).toEqual([high.id]);
      const after = await oms.call('oms.queue.peek', { pool: p });
      expect(after.depth).toBe(3);
      expect(after.tasks.map((t) => t.id)).toEqual([low.id, older.id, newer.id]);
      expect(await oms.call('oms.queue.peek', { pool: pool('empty') })).toMatchObject({ depth: 0, tasks: [] });
    });

    it('lists tasks newest first with filters and stable cursor pages', async () => {
      const p = pool('list');
      const created = [];
      for (let i = 0; i < 7; i++) created.push(await oms.queueTask({ pool: p, title: `t${i}` }));
      const [leased] = (await oms.call('oms.task.lease', { pool: p, worker: 'lister' })).tasks;

      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await oms.call('oms.task.list', { pool: p, limit: 3, ...(cursor ? { cursor } : {}) });
        seen.push(...page.items.map((t) => t.id));
        cursor = page.nextCursor ?? undefined;
        pages += 1;
        if (pages === 1) await oms.queueTask({ pool: p, title: 'late' }); // newer: must not shift later pages
      } while (cursor);
      expect(pages).toBe(3);
      const newestFirst = [...created].sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
      expect(seen).toEqual(newestFirst.map((t) => t.id));

      expect((await oms.call('oms.task.list', { pool: p, status: 'leased' })).items.map((t) => t.id)).toEqual([leased!.id]);
      expect((await oms.call('oms.task.list', { worker: 'lister' })).items.map((t) => t.id)).toEqual([leased!.id]);
      expect((await oms.call('oms.task.list', { requestId: created[2]!.requestId })).items.map((t) => t.id)).toEqual([created[2]!.id]);
      const bad = await oms.failure('oms.task.list', { cursor: 'garbage' });
      expect(bad).toMatchObject({ code: 'VALIDATION_FAILED', details: [{ path: 'cursor', message: expect.any(String) }] });
    });

    it('answers NOT_FOUND for unknown tasks and pools', async () => {
      expect((await oms.failure('oms.task.get', { id: randomUUID() })).code).toBe('NOT_FOUND');
      expect((await oms.failure('oms.task.get', { id: 'nope' })).code).toBe('NOT_FOUND');
      expect((await oms.failure('oms.pool.get', { pool: pool('ghost') })).code).toBe('NOT_FOUND');
    });
  });

  describe('pools', () => {
    it('creates, replaces, lists and reads pools', async () => {
      const p = pool('crud');
      const created = await oms.call('oms.pool.upsert', {
        pool: p,
        kind: 'bot',
        leaseSeconds: 60,
        slaMinutes: 10,
        maxAttempts: 5,
        autoscale: { tasksPerReplica: 10, minReplicas: 1, maxReplicas: 4 },
        escalation: { pool: 'supervisors', afterMinutes: 5 },
        workerLivenessSeconds: 15,
      });
      expect(created).toMatchObject({
        pool: p,
        kind: 'bot',
        leaseSeconds: 60,
        slaMinutes: 10,
        maxAttempts: 5,
        autoscale: { tasksPerReplica: 10, minReplicas: 1, maxReplicas: 4 },
        escalation: { pool: 'supervisors', afterMinutes: 5 },
        workerLivenessSeconds: 15,
      });
      expect(await oms.sql(`SELECT worker_liveness_seconds FROM oms.pools WHERE name = $1`, [p])).toEqual([{ worker_liveness_seconds: 15 }]);
      // Like the other optional settings, a PUT without the window puts the pool back on the
      // default: the service's OMS_WORKER_LIVENESS_SECONDS (60 here), stored as "none of its own".
      const replaced = await oms.call('oms.pool.upsert', { pool: p, kind: 'human' });
      expect(replaced).toMatchObject({ pool: p, kind: 'human', leaseSeconds: POOL_DEFAULTS.leaseSeconds, maxAttempts: POOL_DEFAULTS.maxAttempts, slaMinutes: null, autoscale: null, escalation: null, workerLivenessSeconds: 60, createdAt: created.createdAt });
      expect(await oms.sql(`SELECT worker_liveness_seconds FROM oms.pools WHERE name = $1`, [p])).toEqual([{ worker_liveness_seconds: null }]);
      expect(await oms.call('oms.pool.get', { pool: p })).toEqual(replaced);
      expect((await oms.call('oms.pool.list', {})).items).toEqual(expect.arrayContaining([replaced]));
      await oms.waitForEvent('oms.pool.updated', (e) => e.data.pool === p);
    });

    it('refuses invalid pool settings with every problem listed', async () => {
      const bad = await oms.failure('oms.pool.upsert', { pool: 'No Spaces', kind: 'robot', leaseSeconds: 0 } as never);
      expect(bad.code).toBe('VALIDATION_FAILED');
      const paths = (bad.details as Array<{ path: string }>).map((d) => d.path);
      expect(paths).toEqual(expect.arrayContaining(['pool', 'kind', 'leaseSeconds']));
    });

    it.each([5, 100_000, 1.5, '30'])('refuses a worker liveness window of %p with its path', async (workerLivenessSeconds) => {
      const p = pool('window');
      const bad = await oms.failure('oms.pool.upsert', { pool: p, kind: 'human', workerLivenessSeconds } as never);
      expect(bad.code).toBe('VALIDATION_FAILED');
      const details = bad.details as Array<{ path: string; message: string }>;
      expect(details.length).toBeGreaterThan(0); // one per broken rule: 1.5 is below 10 and not an integer
      for (const detail of details) expect(detail).toEqual({ path: 'workerLivenessSeconds', message: expect.stringContaining('workerLivenessSeconds') });
      expect(await oms.sql(`SELECT 1 FROM oms.pools WHERE name = $1`, [p])).toEqual([]);
    });

    it('accepts the bounds of the worker liveness window and shows the default for a pool created on first use', async () => {
      for (const workerLivenessSeconds of [10, 86_400]) {
        expect(await oms.call('oms.pool.upsert', { pool: pool('bounds'), kind: 'bot', workerLivenessSeconds })).toMatchObject({ workerLivenessSeconds });
      }
      const task = await oms.queueTask({ pool: pool('implicit') });
      expect(await oms.call('oms.pool.get', { pool: task.pool })).toMatchObject({ workerLivenessSeconds: 60 });
      const withSla = await oms.call('oms.pool.set-sla', { pool: pool('sla-only'), minutes: 5 });
      expect(withSla).toMatchObject({ slaMinutes: 5, workerLivenessSeconds: 60 });
      const own = await oms.call('oms.pool.upsert', { pool: pool('own'), kind: 'human', workerLivenessSeconds: 20 });
      expect(await oms.call('oms.pool.set-sla', { pool: own.pool, minutes: 5 })).toMatchObject({ slaMinutes: 5, workerLivenessSeconds: 20 });
    });
  });
});
