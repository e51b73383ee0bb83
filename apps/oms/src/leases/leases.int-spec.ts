import { randomUUID } from 'node:crypto';
import type { HmsEvent, LeasedTask } from '@hms/contracts';
import { metricsRegistry } from '@hms/platform';
import { eventually, OmsHarness } from '../testing/oms-harness';

jest.setTimeout(60_000);

describe('OMS leases', () => {
  let oms: OmsHarness;
  const pool = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    oms = await OmsHarness.start('oms_leases');
  });

  afterAll(async () => {
    await oms?.close();
  });

  async function leaseOne(poolName: string, extra: { worker?: string; tags?: string[]; leaseSeconds?: number } = {}): Promise<LeasedTask> {
    const { tasks } = await oms.call('oms.task.lease', { pool: poolName, worker: extra.worker ?? 'w1', ...extra });
    expect(tasks).toHaveLength(1);
    return tasks[0]!;
  }

  it('leases a queued task with a secret token, then completes it', async () => {
    const p = pool('complete');
    const queued = await oms.queueTask({ pool: p, title: 'Check', tags: [], payload: { n: 1 } });
    expect(queued).toMatchObject({ status: 'queued', attempt: 0, maxAttempts: 3, pool: p, worker: null });

    const leased = await leaseOne(p, { worker: 'ana' });
    expect(leased).toMatchObject({ id: queued.id, requestId: queued.requestId, stepId: queued.stepId, title: 'Check', pool: p, payload: { n: 1 }, attempt: 1 });
    expect(leased.leaseToken).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 random bytes, base64url
    const expiresIn = Date.parse(leased.leaseExpiresAt) - Date.now();
    expect(expiresIn).toBeGreaterThan(290_000); // POOL_DEFAULTS.leaseSeconds = 300
    expect(expiresIn).toBeLessThanOrEqual(300_000);
    expect(leased.leaseSeconds).toBe(300);
    expect(await oms.call('oms.task.get', { id: queued.id })).toMatchObject({ status: 'leased', worker: 'ana', attempt: 1 });

    const done = await oms.call('oms.task.complete', { taskId: queued.id, leaseToken: leased.leaseToken, output: { ok: true } });
    expect(done).toEqual({ id: queued.id, status: 'completed' });
    expect(await oms.call('oms.task.get', { id: queued.id })).toMatchObject({ status: 'completed', output: { ok: true }, leaseExpiresAt: null, worker: 'ana' });

    const leasedEvent = await oms.waitForEvent('oms.task.leased', (e) => e.data.taskId === queued.id);
    // Written by SQL in the lease statement itself: exactly the contract's envelope and fields.
    const isoMs = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
    expect(leasedEvent).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      type: 'oms.task.leased',
      at: expect.stringMatching(isoMs),
      actor: 'test-manager',
      requestId: queued.requestId,
      source: 'oms',
      data: { taskId: queued.id, stepId: queued.stepId, pool: p, worker: 'ana', leaseId: expect.stringMatching(/^[0-9a-f-]{36}$/), attempt: 1, leaseExpiresAt: leased.leaseExpiresAt, waitedMs: expect.any(Number) },
    });
    expect(Date.parse(leased.leaseExpiresAt) - Date.parse(leasedEvent.at)).toBe(300_000);
    expect(leasedEvent.data.waitedMs).toBe(Math.max(0, Date.parse(leasedEvent.at) - Date.parse(queued.availableAt)));
    const completed = await oms.waitForEvent('oms.task.completed', (e) => e.data.taskId === queued.id);
    expect(completed).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      type: 'oms.task.completed',
      at: expect.stringMatching(isoMs),
      actor: 'test-manager',
      requestId: queued.requestId,
      source: 'oms',
      data: { taskId: queued.id, stepId: queued.stepId, pool: p, worker: 'ana', leaseId: leasedEvent.data.leaseId, attempt: 1, output: { ok: true } },
    });
    expect(completed.id).not.toBe(leasedEvent.id);
  });

  it("shows the step's input in the lease answer and the task, and {} for a ready step emitted before inputs existed", async () => {
    const p = pool('input');
    const withInput = await oms.queueTask({ pool: p, payload: { ticket: 'T-1' }, input: { passportNo: '987654321', scores: [0.5, null] } });
    expect(withInput.input).toEqual({ passportNo: '987654321', scores: [0.5, null] });
    const leased = await leaseOne(p);
    expect(leased).toMatchObject({ id: withInput.id, payload: { ticket: 'T-1' }, input: { passportNo: '987654321', scores: [0.5, null] } });

    const { input: _absent, ...older } = { pool: p, payload: { n: 2 }, input: undefined };
    const legacy = await oms.queueTask(older);
    expect(legacy.input).toEqual({});
    expect((await leaseOne(p)).input).toEqual({});
  });

  it('answers a repeated complete with the same result, and a stale token with LEASE_LOST', async () => {
    const p = pool('repeat');
    const task = await oms.queueTask({ pool: p });
    const leased = await leaseOne(p);
    const first = await oms.call('oms.task.complete', { taskId: task.id, leaseToken: leased.leaseToken, output: { a: 1 } });
    const again = await oms.call('oms.task.complete', { taskId: task.id, leaseToken: leased.leaseToken, output: { a: 1 } });
    expect(again).toEqual(first);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(oms.events.filter((e) => e.type === 'oms.task.completed' && (e.data as { taskId: string }).taskId === task.id)).toHaveLength(1);

    const stale = await oms.failure('oms.task.complete', { taskId: task.id, leaseToken: 'not-the-token', output: {} });
    expect(stale.code).toBe('LEASE_LOST');
    const wrongAction = await oms.failure('oms.task.fail', { taskId: task.id, leaseToken: leased.leaseToken, error: { message: 'x' } });
    expect(wrongAction.code).toBe('LEASE_LOST');
    expect((await oms.failure('oms.task.complete', { taskId: randomUUID(), leaseToken: 'x' })).code).toBe('NOT_FOUND');
    expect((await oms.failure('oms.task.complete', { taskId: 'not-a-uuid', leaseToken: 'x' })).code).toBe('NOT_FOUND');
  });

  it('gives LEASE_LOST to the previous holder once a task was leased again', async () => {
    const p = pool('foreign');
    const task = await oms.queueTask({ pool: p });
    const first = await leaseOne(p, { worker: 'first' });
    await oms.call('oms.task.release', { taskId: task.id, leaseToken: first.leaseToken });
    const second = await leaseOne(p, { worker: 'second' });
    expect((await oms.failure('oms.task.complete', { taskId: task.id, leaseToken: first.leaseToken, output: {} })).code).toBe('LEASE_LOST');
    expect((await oms.failure('oms.task.heartbeat', { taskId: task.id, leaseToken: first.leaseToken })).code).toBe('LEASE_LOST');
    expect(await oms.call('oms.task.complete', { taskId: task.id, leaseToken: second.leaseToken, output: {} })).toEqual({ id: task.id, status: 'completed' });
  });

  it('retries a failed task after its backoff, with attempt 2', async () => {
    const p = pool('retry');
    const task = await oms.queueTask({ pool: p, retry: { attempts: 3, backoffSeconds: 1, backoffFactor: 2 } });
    const first = await leaseOne(p);
    const failedAt = Date.now();
    const result = await oms.call('oms.task.fail', { taskId: task.id, leaseToken: first.leaseToken, error: { message: 'scanner offline', code: 'E_SCAN' } });
    expect(result.status).toBe('queued');
    const retryIn = Date.parse(result.retryAt!) - failedAt;
    expect(retryIn).toBeGreaterThan(800); // 1 s ± 10 %
    expect(retryIn).toBeLessThan(1_300);

    // Same call again: same answer, no second failure recorded.
    expect(await oms.call('oms.task.fail', { taskId: task.id, leaseToken: first.leaseToken, error: { message: 'scanner offline' } })).toEqual(result);

    expect((await oms.call('oms.task.lease', { pool: p, worker: 'w1' })).tasks).toEqual([]);
    expect(await oms.call('oms.task.get', { id: task.id })).toMatchObject({ status: 'queued', attempt: 1, lastError: { message: 'scanner offline', code: 'E_SCAN' } });

    const second = await eventually(async () => (await oms.call('oms.task.lease', { pool: p, worker: 'w1' })).tasks[0], 3_000, 'the retry');
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(result.retryAt!));
    expect(second).toMatchObject({ id: task.id, attempt: 2 });
    expect(second.leaseToken).not.toBe(first.leaseToken);

    const failed = await oms.waitForEvent('oms.task.failed', (e) => e.data.taskId === task.id);
    expect(failed.data).toMatchObject({ attempt: 1, retryAt: result.retryAt, error: { message: 'scanner offline', code: 'E_SCAN' } });
  });

  it('kills a task whose attempts are spent, and one failed as not retryable', async () => {
    const p = pool('dead');
    const task = await oms.queueTask({ pool: p, retry: { attempts: 2, backoffSeconds: 0 } });
    const first = await leaseOne(p);
    expect((await oms.call('oms.task.fail', { taskId: task.id, leaseToken: first.leaseToken, error: { message: 'one' } })).status).toBe('queued');
    const second = await leaseOne(p);
    expect(second.attempt).toBe(2);
    const last = await oms.call('oms.task.fail', { taskId: task.id, leaseToken: second.leaseToken, error: { message: 'two' } });
    expect(last).toEqual({ id: task.id, status: 'dead', retryAt: null });
    expect(await oms.call('oms.task.get', { id: task.id })).toMatchObject({ status: 'dead', attempt: 2, lastError: { message: 'two' } });
    expect((await oms.call('oms.task.lease', { pool: p, worker: 'w1' })).tasks).toEqual([]);
    const dead = await oms.waitForEvent('oms.task.dead', (e) => e.data.taskId === task.id);
    expect(dead.data).toMatchObject({ attempts: 2, error: { message: 'two' } });
    expect((await oms.waitForEvent('oms.task.failed', (e) => e.data.taskId === task.id && e.data.attempt === 2)).data.retryAt).toBeNull();

    const fatal = await oms.queueTask({ pool: p, retry: { attempts: 5 } });
    const lease = await leaseOne(p);
    expect(await oms.call('oms.task.fail', { taskId: fatal.id, leaseToken: lease.leaseToken, error: { message: 'bad input' }, retryable: false })).toEqual({
      id: fatal.id,
      status: 'dead',
      retryAt: null,
    });
  });

  it('releases a task back to the queue at once without counting the attempt', async () => {
    const p = pool('release');
    const task = await oms.queueTask({ pool: p });
    const leased = await leaseOne(p, { worker: 'bob' });
    const released = await oms.call('oms.task.release', { taskId: task.id, leaseToken: leased.leaseToken });
    expect(released).toEqual({ id: task.id, status: 'queued' });
    expect(await oms.call('oms.task.release', { taskId: task.id, leaseToken: leased.leaseToken })).toEqual(released);
    expect(await oms.call('oms.task.get', { id: task.id })).toMatchObject({ status: 'queued', attempt: 0, worker: null, leaseExpiresAt: null });
    const again = await leaseOne(p, { worker: 'carol' });
    expect(again.attempt).toBe(1);
    const requeued = await oms.waitForEvent('oms.task.requeued', (e) => e.data.taskId === task.id);
    expect(requeued.data).toMatchObject({ reason: 'released', attempt: 0, pool: p });
  });

  it('extends a lease on heartbeat, by the lease length or the asked extension', async () => {
    const p = pool('heartbeat');
    const task = await oms.queueTask({ pool: p, leaseSeconds: 2 });
    const leased = await leaseOne(p);
    expect(Date.parse(leased.leaseExpiresAt) - Date.now()).toBeLessThanOrEqual(2_000);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const beat = await oms.call('oms.task.heartbeat', { taskId: task.id, leaseToken: leased.leaseToken });
    expect(Date.parse(beat.leaseExpiresAt)).toBeGreaterThan(Date.parse(leased.leaseExpiresAt) + 1_000);
    const longer = await oms.call('oms.task.heartbeat', { taskId: task.id, leaseToken: leased.leaseToken, extendSeconds: 60 });
    expect(Date.parse(longer.leaseExpiresAt) - Date.now()).toBeGreaterThan(55_000);
    // Past the first deadline, the heartbeats kept the lease: no sweep took it.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await oms.call('oms.task.get', { id: task.id })).toMatchObject({ status: 'leased', leaseExpiresAt: longer.leaseExpiresAt });
    expect((await oms.failure('oms.task.heartbeat', { taskId: task.id, leaseToken: 'stale' })).code).toBe('LEASE_LOST');
  });

  it("tells a worker that claimed a task briefly the task's full lease length, to extend to when it starts", async () => {
    const p = pool('claim');
    const task = await oms.queueTask({ pool: p, leaseSeconds: 7200 });
    const claimed = await leaseOne(p, { leaseSeconds: 60 });
    expect(claimed.leaseSeconds).toBe(7200);
    expect(Date.parse(claimed.leaseExpiresAt) - Date.now()).toBeLessThanOrEqual(60_000);
    const started = await oms.call('oms.task.heartbeat', { taskId: task.id, leaseToken: claimed.leaseToken, extendSeconds: claimed.leaseSeconds });
    expect(Date.parse(started.leaseExpiresAt) - Date.now()).toBeGreaterThan(7_000_000);
  });

  it('requeues an expired lease within a second of its deadline, counting the attempt', async () => {
    const p = pool('expiry');
    const task = await oms.queueTask({ pool: p, retry: { attempts: 2 } });
    const leased = await leaseOne(p, { leaseSeconds: 1 });
    const deadline = Date.parse(leased.leaseExpiresAt);
    const requeued = await oms.waitForEvent('oms.task.requeued', (e) => e.data.taskId === task.id, 5_000);
    expect(Date.now() - deadline).toBeLessThan(1_000);
    expect(requeued.data).toMatchObject({ reason: 'lease-expired', attempt: 1 });
    expect((await oms.failure('oms.task.complete', { taskId: task.id, leaseToken: leased.leaseToken, output: {} })).code).toBe('LEASE_LOST');

    const second = await leaseOne(p, { leaseSeconds: 1 });
    expect(second.attempt).toBe(2);
    const dead = await oms.waitForEvent('oms.task.dead', (e) => e.data.taskId === task.id, 5_000);
    expect(dead.data).toMatchObject({ attempts: 2, error: { code: 'LEASE_EXPIRED' } });
    expect(await oms.call('oms.task.get', { id: task.id })).toMatchObject({ status: 'dead', attempt: 2 });
  });

  it('offers a task only to workers whose tags cover the task tags', async () => {
    const p = pool('tags');
    const ocr = await oms.queueTask({ pool: p, tags: ['ocr'], priority: 3 });
    const both = await oms.queueTask({ pool: p, tags: ['ocr', 'es'], priority: 2 });
    const none = await oms.queueTask({ pool: p, tags: [], priority: 1 });

    const { tasks: forOcr } = await oms.call('oms.task.lease', { pool: p, worker: 'ocr-bot', tags: ['ocr'], max: 10 });
    expect(forOcr.map((t) => t.id)).toEqual([ocr.id, none.id]);
    expect((await oms.call('oms.task.lease', { pool: p, worker: 'nobody', tags: ['fr'], max: 10 })).tasks).toEqual([]);
    const { tasks: forAnyone } = await oms.call('oms.task.lease', { pool: p, worker: 'generalist', max: 10 });
    expect(forAnyone.map((t) => t.id)).toEqual([both.id]);
  });

  it('serves higher priority first, then the longest waiting, up to max', async () => {
    const p = pool('priority');
    const low1 = await oms.queueTask({ pool: p, priority: 0 });
    const high = await oms.queueTask({ pool: p, priority: 9 });
    const low2 = await oms.queueTask({ pool: p, priority: 0 });
    const mid = await oms.queueTask({ pool: p, priority: 5 });

    const { tasks: batch } = await oms.call('oms.task.lease', { pool: p, worker: 'bot', max: 3 });
    expect(batch.map((t) => t.id)).toEqual([high.id, mid.id, low1.id]);
    const { tasks: rest } = await oms.call('oms.task.lease', { pool: p, worker: 'bot', max: 3 });
    expect(rest.map((t) => t.id)).toEqual([low2.id]);
    expect(new Set(batch.map((t) => t.leaseToken)).size).toBe(3);
  });

  it('serves the task nearest its deadline first within a priority, and lets an old untimed task overtake', async () => {
    const p = pool('deadline');
    const untimed = await oms.queueTask({ pool: p });
    const dueIn30 = await oms.queueTask({ pool: p, slaMinutes: 30 });
    const dueIn5 = await oms.queueTask({ pool: p, slaMinutes: 5 });
    const urgentButLow = await oms.queueTask({ pool: p, slaMinutes: 1, priority: -1 });
    const highUntimed = await oms.queueTask({ pool: p, priority: 1 });

    const peeked = (await oms.call('oms.queue.peek', { pool: p })).tasks;
    expect(peeked.map((t) => t.id)).toEqual([highUntimed.id, dueIn5.id, dueIn30.id, untimed.id, urgentButLow.id]);
    const { tasks } = await oms.call('oms.task.lease', { pool: p, worker: 'bot', max: 2 });
    expect(tasks.map((t) => t.id)).toEqual([highUntimed.id, dueIn5.id]);

    // A day later the untimed task's ordering deadline has come: it now goes ahead of a task
    // whose SLA has 30 minutes left, instead of waiting behind every task with an SLA.
    await oms.sql(`UPDATE oms.tasks SET pick_by = now() - interval '1 minute' WHERE id = $1`, [untimed.id]);
    const { tasks: next } = await oms.call('oms.task.lease', { pool: p, worker: 'bot', max: 1 });
    expect(next.map((t) => t.id)).toEqual([untimed.id]);
  });

  it('never hands a task to two of 8 concurrent callers (50 tasks)', async () => {
    const p = pool('race');
    const ids = new Set<string>();
    for (let i = 0; i < 50; i++) ids.add((await oms.stepReady({ pool: p, priority: i % 3 })).requestId);
    await eventually(async () => ((await oms.call('oms.queue.peek', { pool: p })).depth === 50 ? true : undefined), 10_000, '50 queued');

    const taken: string[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async (_, caller) => {
        for (;;) {
          const { tasks } = await oms.call('oms.task.lease', { pool: p, worker: `racer-${caller}`, max: 1 + (caller % 4) });
          if (tasks.length === 0) {
            const { depth } = await oms.call('oms.queue.peek', { pool: p });
            if (depth === 0) return;
            continue;
          }
          taken.push(...tasks.map((t) => t.requestId));
        }
      }),
    );
    expect(taken).toHaveLength(50);
    expect(new Set(taken)).toEqual(ids);
    const rows = await oms.sql<{ attempts: number }>(`SELECT sum(attempt)::int AS attempts FROM oms.tasks WHERE pool = $1`, [p]);
    expect(rows[0]!.attempts).toBe(50);
  });

  it('commits concurrent completions together, answering each one as if it were alone', async () => {
    const p = pool('group');
    const queued = await Promise.all(Array.from({ length: 30 }, (_, i) => oms.queueTask({ pool: p, payload: { i } })));
    const leased = [
      ...(await oms.call('oms.task.lease', { pool: p, worker: 'gita', max: 15 })).tasks,
      ...(await oms.call('oms.task.lease', { pool: p, worker: 'hugo', max: 15 })).tasks,
    ];
    expect(leased).toHaveLength(30);
    const holder = new Map(leased.map((t, i) => [t.id, i < 15 ? 'gita' : 'hugo']));
    const batches = async () => {
      const values = (await metricsRegistry.getSingleMetric('hms_oms_completion_batch_size')!.get()).values as Array<{ metricName?: string; value: number }>;
      return { count: values.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0, sum: values.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0 };
    };
    const before = await batches();

    const [first] = leased;
    const answers = await Promise.allSettled([
      ...leased.map((t) => oms.call('oms.task.complete', { taskId: t.id, leaseToken: t.leaseToken, output: { done: t.payload } })),
      oms.call('oms.task.complete', { taskId: first!.id, leaseToken: first!.leaseToken, output: { done: first!.payload } }),
      oms.call('oms.task.complete', { taskId: leased[1]!.id, leaseToken: 'not-the-token', output: {} }),
      oms.call('oms.task.complete', { taskId: randomUUID(), leaseToken: 'x', output: {} }),
    ]);

    leased.forEach((t, i) => expect(answers[i]).toEqual({ status: 'fulfilled', value: { id: t.id, status: 'completed' } }));
    expect(answers[30]).toEqual({ status: 'fulfilled', value: { id: first!.id, status: 'completed' } });
    expect(answers[31]).toMatchObject({ status: 'rejected', reason: { code: 'LEASE_LOST' } });
    expect(answers[32]).toMatchObject({ status: 'rejected', reason: { code: 'NOT_FOUND' } });
    const after = await batches();
    expect(after.sum - before.sum).toBeGreaterThanOrEqual(33);
    expect(after.count - before.count).toBeLessThan(33);

    const rows = await oms.sql<{ id: string; status: string; output: unknown; worker: string }>(`SELECT id, status, output, worker FROM oms.tasks WHERE pool = $1`, [p]);
    expect(rows).toHaveLength(30);
    for (const row of rows) {
      const task = leased.find((t) => t.id === row.id)!;
      expect(row).toMatchObject({ status: 'completed', output: { done: task.payload }, worker: holder.get(row.id) });
    }
    const ids = new Set(queued.map((t) => t.id));
    await eventually(async () => (oms.events.filter((e) => e.type === 'oms.task.completed' && ids.has((e.data as { taskId: string }).taskId)).length >= 30 ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const completedEvents = oms.events.filter((e): e is HmsEvent<'oms.task.completed'> => e.type === 'oms.task.completed' && ids.has((e.data as { taskId: string }).taskId));
    expect(completedEvents).toHaveLength(30);
    expect(new Set(completedEvents.map((e) => e.id)).size).toBe(30);
    for (const event of completedEvents) {
      const task = leased.find((t) => t.id === event.data.taskId)!;
      expect(event).toMatchObject({ requestId: task.requestId, data: { output: { done: task.payload }, worker: holder.get(task.id), attempt: 1 } });
    }
  });

  it('completes a batch in one call, answering each item in order as its own complete would', async () => {
    const p = pool('many');
    await Promise.all(Array.from({ length: 4 }, (_, i) => oms.queueTask({ pool: p, payload: { i } })));
    const { tasks } = await oms.call('oms.task.lease', { pool: p, worker: 'bot-7', max: 4 });
    expect(tasks).toHaveLength(4);
    const [a, b, c, d] = tasks;
    // d was already completed by a single call: repeating it in the batch is the same answer.
    await oms.call('oms.task.complete', { taskId: d!.id, leaseToken: d!.leaseToken, output: { n: 'd' } });

    const { results } = await oms.call('oms.task.complete-many', {
      items: [
        { taskId: a!.id, leaseToken: a!.leaseToken, output: { n: 'a' } },
        { taskId: b!.id, leaseToken: 'stale', output: {} },
        { taskId: c!.id, leaseToken: c!.leaseToken },
        { taskId: d!.id, leaseToken: d!.leaseToken, output: { n: 'd' } },
        { taskId: a!.id, leaseToken: a!.leaseToken, output: { n: 'a' } },
        { taskId: 'not-a-task', leaseToken: 'x' },
      ],
    });
    expect(results).toEqual([
      { id: a!.id, status: 'completed' },
      { id: b!.id, error: { code: 'LEASE_LOST', message: expect.any(String) } },
      { id: c!.id, status: 'completed' },
      { id: d!.id, status: 'completed' },
      { id: a!.id, status: 'completed' },
      { id: 'not-a-task', error: { code: 'NOT_FOUND', message: expect.any(String) } },
    ]);
    const rows = await oms.sql<{ id: string; status: string; output: unknown }>(`SELECT id, status, output FROM oms.tasks WHERE pool = $1`, [p]);
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(byId.get(a!.id)).toMatchObject({ status: 'completed', output: { n: 'a' } });
    expect(byId.get(b!.id)).toMatchObject({ status: 'leased' });
    expect(byId.get(c!.id)).toMatchObject({ status: 'completed', output: {} });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const completedEvents = oms.events.filter((e) => e.type === 'oms.task.completed' && tasks.some((t) => t.id === (e.data as { taskId: string }).taskId));
    expect(completedEvents.map((e) => (e.data as { taskId: string }).taskId).sort()).toEqual([a!.id, c!.id, d!.id].sort());

    const tooMany = await oms.failure('oms.task.complete-many', { items: Array.from({ length: 101 }, () => ({ taskId: a!.id, leaseToken: 'x' })) });
    expect(tooMany.code).toBe('VALIDATION_FAILED');
    const badItem = await oms.failure('oms.task.complete-many', { items: [{ taskId: a!.id }] as never });
    expect(badItem.code).toBe('VALIDATION_FAILED');
    expect(badItem.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'items[0].leaseToken' })]));
    expect((await oms.failure('oms.task.complete-many', { items: [] })).code).toBe('VALIDATION_FAILED');
  });

  it('leases the next tasks in the answer of a complete (next), once the completion is committed', async () => {
    const p = pool('next');
    const first = await oms.queueTask({ pool: p, payload: { n: 1 } });
    const leased = await leaseOne(p, { worker: 'nia' });
    const second = await oms.queueTask({ pool: p, payload: { n: 2 } });
    const third = await oms.queueTask({ pool: p, payload: { n: 3 } });

    const done = await oms.call('oms.task.complete', { taskId: first.id, leaseToken: leased.leaseToken, output: { n: 1 }, next: { pool: p, worker: 'nia', max: 5, leaseSeconds: 60 } });
    expect(done).toEqual({ id: first.id, status: 'completed', next: { tasks: [expect.objectContaining({ id: second.id, payload: { n: 2 } }), expect.objectContaining({ id: third.id, payload: { n: 3 } })] } });
    const [nextSecond, nextThird] = done.next!.tasks;
    // Granted for the 60 s asked (from the lease's own time), the task's full length still told.
    expect(nextSecond!.leaseSeconds).toBe(300);
    const secondLeased = await oms.waitForEvent('oms.task.leased', (e) => e.data.taskId === second.id);
    expect(Date.parse(nextSecond!.leaseExpiresAt) - Date.parse(secondLeased.at)).toBe(60_000);
    expect(await oms.call('oms.task.get', { id: first.id })).toMatchObject({ status: 'completed', output: { n: 1 } });
    expect(await oms.call('oms.task.get', { id: second.id })).toMatchObject({ status: 'leased', worker: 'nia', attempt: 1 });
    const leasedAt = await oms.waitForEvent('oms.task.leased', (e) => e.data.taskId === third.id);
    const completedAt = await oms.waitForEvent('oms.task.completed', (e) => e.data.taskId === first.id);
    expect(Date.parse(leasedAt.at)).toBeGreaterThanOrEqual(Date.parse(completedAt.at));

    // Nothing queued: the answer says so at once (no wait), and the worker long-polls with a lease call.
    const empty = await oms.call('oms.task.complete', { taskId: second.id, leaseToken: nextSecond!.leaseToken, next: { pool: p, worker: 'nia' } });
    expect(empty).toEqual({ id: second.id, status: 'completed', next: { tasks: [] } });
    // A repeat of a complete that succeeded is still a success, so it leases too.
    const fourth = await oms.queueTask({ pool: p, payload: { n: 4 } });
    const repeat = await oms.call('oms.task.complete', { taskId: second.id, leaseToken: nextSecond!.leaseToken, next: { pool: p, worker: 'nia' } });
    expect(repeat.next!.tasks.map((task) => task.id)).toEqual([fourth.id]);

    // A completion that fails leases nothing: the queued task stays for someone else.
    const fifth = await oms.queueTask({ pool: p, payload: { n: 5 } });
    const stale = await oms.failure('oms.task.complete', { taskId: third.id, leaseToken: 'stale', next: { pool: p, worker: 'nia' } });
    expect(stale.code).toBe('LEASE_LOST');
    expect(await oms.call('oms.task.get', { id: fifth.id })).toMatchObject({ status: 'queued', worker: null });

    // complete-many takes its next lease after every item is settled, whatever each item's outcome.
    const many = await oms.call('oms.task.complete-many', {
      items: [
        { taskId: third.id, leaseToken: nextThird!.leaseToken, output: { n: 3 } },
        { taskId: randomUUID(), leaseToken: 'x' },
      ],
      next: { pool: p, worker: 'nia', max: 10 },
    });
    expect(many).toEqual({
      results: [
        { id: third.id, status: 'completed' },
        { id: expect.any(String), error: { code: 'NOT_FOUND', message: expect.any(String) } },
      ],
      next: { tasks: [expect.objectContaining({ id: fifth.id })] },
    });
    expect(await oms.call('oms.task.get', { id: third.id })).toMatchObject({ status: 'completed', output: { n: 3 } });
  });

  it('refuses a malformed next before completing anything', async () => {
    const p = pool('next-bad');
    const task = await oms.queueTask({ pool: p });
    const leased = await leaseOne(p);
    const lease = { taskId: task.id, leaseToken: leased.leaseToken };
    const cases: Array<[unknown, string]> = [
      [{ pool: p, waitSeconds: 5 }, 'next.waitSeconds'],
      [{ pool: p, max: 101 }, 'next.max'],
      [{ pool: p, max: 0 }, 'next.max'],
      [{ pool: 'Bad Pool!' }, 'next.pool'],
      [{ worker: 'w1' }, 'next.pool'],
      [[{ pool: p }], 'next'],
      ['p', 'next'],
    ];
    for (const [next, path] of cases) {
      const refused = await oms.failure('oms.task.complete', { ...lease, next } as never);
      expect([next, refused.code, (refused.details as Array<{ path: string }>).map((detail) => detail.path)]).toEqual([next, 'VALIDATION_FAILED', expect.arrayContaining([path])]);
    }
    const inItem = await oms.failure('oms.task.complete-many', { items: [{ ...lease, next: { pool: p } }] } as never);
    expect(inItem.details).toEqual([expect.objectContaining({ path: 'items[0].next' })]);
    expect(await oms.call('oms.task.get', { id: task.id })).toMatchObject({ status: 'leased' });
  });

  it('refreshes the worker row on every call that names or holds a lease', async () => {
    const p = pool('worker');
    const task = await oms.queueTask({ pool: p });
    const leased = await leaseOne(p, { worker: 'dora' });
    const [afterLease] = await oms.sql<{ last_seen_at: Date }>(`SELECT last_seen_at FROM oms.workers WHERE id = 'dora'`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await oms.call('oms.task.heartbeat', { taskId: task.id, leaseToken: leased.leaseToken });
    const [afterBeat] = await oms.sql<{ last_seen_at: Date }>(`SELECT last_seen_at FROM oms.workers WHERE id = 'dora'`);
    expect(afterBeat!.last_seen_at.getTime()).toBeGreaterThan(afterLease!.last_seen_at.getTime());
  });

  it('refuses bad input with VALIDATION_FAILED and the offending paths', async () => {
    const badPool = await oms.failure('oms.task.lease', { pool: 'Bad Pool!', worker: 'w1' });
    expect(badPool.code).toBe('VALIDATION_FAILED');
    expect(badPool.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'pool' })]));
    const zero = await oms.failure('oms.task.lease', { pool: 'fine', worker: 'w1', max: 0 });
    expect(zero.code).toBe('VALIDATION_FAILED');
    expect(zero.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'max' })]));
    const tooLong = await oms.failure('oms.task.lease', { pool: 'fine', worker: 'w1', waitSeconds: 31 });
    expect(tooLong.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'waitSeconds' })]));
    const noError = await oms.failure('oms.task.fail', { taskId: randomUUID(), leaseToken: 't' } as never);
    expect(noError.code).toBe('VALIDATION_FAILED');
    expect(noError.details).toEqual([expect.objectContaining({ path: 'error' })]);
  });
});
