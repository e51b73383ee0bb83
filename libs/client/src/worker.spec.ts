import type { LeasedTask } from '@hms/contracts';
import { HmsClient } from './hms-client';
import { createFakeFetch, eventually, type FakeFetch, type FakeReply, type RecordedCall } from './testing/fake-fetch';
import { Pool, PoolWorker, TaskError, WorkItem } from './worker';

function leased(id: string, overrides: Partial<LeasedTask> = {}): LeasedTask {
  return {
    id,
    requestId: `req-${id}`,
    stepId: 'verify',
    title: 'Verify passport',
    pool: 'human_verify',
    tags: [],
    payload: { name: 'Ada' },
    input: {},
    attempt: 1,
    leaseToken: `lease-${id}`,
    leaseExpiresAt: new Date(Date.now() + 60_000).toISOString(),
    leaseSeconds: 60,
    ...overrides,
  };
}

/**
 * A gateway stand-in: hands out the given tasks one per lease call (or `next` of a complete),
 * then long-polls forever (until the worker aborts), and answers every task call with
 * `reply(call)` or 200.
 */
function gateway(tasks: LeasedTask[], reply: (call: RecordedCall) => FakeReply | undefined = () => undefined): { fake: FakeFetch; worker: PoolWorker } {
  const queue = [...tasks];
  const fake = createFakeFetch((call) => {
    if (call.path.endsWith('/lease')) {
      const next = queue.splice(0, (call.json as { max: number }).max);
      return next.length > 0 ? { body: { tasks: next } } : 'hang';
    }
    const answer = reply(call) ?? { body: { id: call.path.split('/')[3], status: 'completed', leaseExpiresAt: '2030-01-01T00:00:00.000Z' } };
    const asked = (call.json as { next?: { max?: number } } | undefined)?.next;
    if (!asked || answer === 'hang' || answer instanceof Error || (answer.status ?? 200) !== 200) return answer;
    return { ...answer, body: { ...(answer.body as object), next: { tasks: queue.splice(0, asked.max ?? 1) } } };
  });
  const client = new HmsClient({ baseUrl: 'http://hms.test', token: 't', fetch: fake.fetch });
  return { fake, worker: new Pool('human_verify', client).login('alice', { tags: ['de', 'passport'] }) };
}

const leaseCalls = (fake: FakeFetch) => fake.calls.filter((call) => call.path.endsWith('/lease'));
const taskCalls = (fake: FakeFetch): Array<[string, unknown]> => fake.callsTo('/v1/tasks/').map((c) => [c.path, c.json]);

describe(PoolWorker.name, () => {
  it('leases one task with a 20 s long-poll when nextTask is called without options', async () => {
    const { fake, worker } = gateway([leased('t1', { input: { passportNo: '987654321' } })]);
    const item = await worker.nextTask();
    expect(fake.calls[0]).toMatchObject({
      method: 'POST',
      path: '/v1/pools/human_verify/lease',
      json: { worker: 'alice', tags: ['de', 'passport'], max: 1, waitSeconds: 20 },
    });
    expect(item).toBeInstanceOf(WorkItem);
    expect(item).toMatchObject({ id: 't1', requestId: 'req-t1', stepId: 'verify', title: 'Verify passport', payload: { name: 'Ada' }, input: { passportNo: '987654321' }, attempt: 1, leaseToken: 'lease-t1' });
  });

  it('returns null when the long-poll ends without a task', async () => {
    const fake = createFakeFetch(() => ({ body: { tasks: [] } }));
    const worker = new Pool('ocr', new HmsClient({ baseUrl: 'http://hms.test', fetch: fake.fetch })).login('bot');
    await expect(worker.nextTask({ waitSeconds: 0 })).resolves.toBeNull();
    expect(fake.calls[0].json).toEqual({ worker: 'bot', max: 1, waitSeconds: 0 });
  });

  it('leases a batch when a bot asks for several tasks', async () => {
    const { fake, worker } = gateway([leased('t1'), leased('t2'), leased('t3')]);
    const items = await worker.nextTasks(2);
    expect(items.map((i) => i.id)).toEqual(['t1', 't2']);
    expect(fake.calls[0].json).toMatchObject({ max: 2, waitSeconds: 0 });
  });

  describe(WorkItem.name, () => {
    it('sends its lease token with every call and tracks the new expiry when heartbeating', async () => {
      const { fake, worker } = gateway([leased('t1')]);
      const item = (await worker.nextTask())!;
      await item.heartbeat(30);
      expect(item.leaseExpiresAt).toBe('2030-01-01T00:00:00.000Z');
      await item.complete({ approved: true });
      await item.fail(new TaskError('unreadable scan', { code: 'OCR', retryable: false }));
      await item.fail(new Error('timeout'), { retryable: true });
      await item.release();
      expect(taskCalls(fake)).toEqual([
        ['/v1/tasks/t1/heartbeat', { leaseToken: 'lease-t1', extendSeconds: 30 }],
        ['/v1/tasks/t1/complete', { leaseToken: 'lease-t1', output: { approved: true } }],
        ['/v1/tasks/t1/fail', { leaseToken: 'lease-t1', error: { message: 'unreadable scan', code: 'OCR' }, retryable: false }],
        ['/v1/tasks/t1/fail', { leaseToken: 'lease-t1', error: { message: 'timeout' }, retryable: true }],
        ['/v1/tasks/t1/release', { leaseToken: 'lease-t1' }],
      ]);
    });
  });

  describe('run', () => {
    it('completes each task with the handler result when the handler resolves', async () => {
      const { fake, worker } = gateway([leased('t1'), leased('t2')]);
      const stop = new AbortController();
      const seen: string[] = [];
      const errors: unknown[] = [];
      const running = worker.run(
        async (item) => {
          seen.push(item.id);
          return { approved: item.id === 't1' };
        },
        { signal: stop.signal, onError: (e) => errors.push(e) },
      );
      await eventually(() => fake.callsTo('/v1/tasks/').length === 2);
      stop.abort();
      await expect(running).resolves.toEqual({ completed: 2, failed: 0, released: 0, lost: 0 });
      expect(seen).toEqual(['t1', 't2']);
      expect(errors).toEqual([]);
      // t2 came in the answer of t1's complete; after t2 the worker long-polls again.
      const next = { pool: 'human_verify', worker: 'alice', max: 1, tags: ['de', 'passport'] };
      expect(taskCalls(fake)).toEqual([
        ['/v1/tasks/t1/complete', { leaseToken: 'lease-t1', output: { approved: true }, next }],
        ['/v1/tasks/t2/complete', { leaseToken: 'lease-t2', output: { approved: false }, next }],
      ]);
      expect(leaseCalls(fake)).toHaveLength(2);
    });

    it('works through a queue with one call per task, leasing again only when a complete brings no task', async () => {
      const { fake, worker } = gateway(['t1', 't2', 't3', 't4'].map((id) => leased(id)));
      const stop = new AbortController();
      const running = worker.run(async () => ({}), { signal: stop.signal });
      await eventually(() => fake.calls.filter((call) => call.path.endsWith('/complete')).length === 4 && leaseCalls(fake).length === 2);
      stop.abort();
      await expect(running).resolves.toMatchObject({ completed: 4 });
      expect(fake.calls.map((call) => call.path)).toEqual([
        '/v1/pools/human_verify/lease',
        '/v1/tasks/t1/complete',
        '/v1/tasks/t2/complete',
        '/v1/tasks/t3/complete',
        '/v1/tasks/t4/complete',
        '/v1/pools/human_verify/lease',
      ]);
    });

    it('asks for no next task once stopping', async () => {
      const { fake, worker } = gateway([leased('t1'), leased('t2'), leased('t3')]);
      const stop = new AbortController();
      const running = worker.run(
        async (item, { signal }) => {
          if (item.id === 't2') {
            stop.abort();
            await eventually(() => signal.aborted);
          }
          return {};
        },
        { signal: stop.signal },
      );
      await expect(running).resolves.toMatchObject({ completed: 2, released: 0 });
      expect(taskCalls(fake).map(([path, json]) => [path, (json as { next?: unknown }).next !== undefined])).toEqual([
        ['/v1/tasks/t1/complete', true],
        ['/v1/tasks/t2/complete', false],
      ]);
    });

    it('hands back a task that came with a complete answered after the run was stopped', async () => {
      const stop = new AbortController();
      const { fake, worker } = gateway([leased('t1'), leased('t2')], (call) => {
        if (call.path === '/v1/tasks/t1/complete') stop.abort();
        return undefined;
      });
      await expect(worker.run(async () => ({}), { signal: stop.signal })).resolves.toMatchObject({ completed: 1, released: 1 });
      expect(taskCalls(fake).map(([path]) => path)).toEqual(['/v1/tasks/t1/complete', '/v1/tasks/t2/release']);
    });

    it('fails the task retryably when the handler throws', async () => {
      const { fake, worker } = gateway([leased('t1')]);
      const stop = new AbortController();
      const running = worker.run(
        () => {
          throw Object.assign(new Error('service down'), { code: 'UPSTREAM' });
        },
        { signal: stop.signal },
      );
      await eventually(() => fake.callsTo('/v1/tasks/').length === 1);
      stop.abort();
      await expect(running).resolves.toMatchObject({ failed: 1 });
      expect(taskCalls(fake)).toEqual([['/v1/tasks/t1/fail', { leaseToken: 'lease-t1', error: { message: 'service down', code: 'UPSTREAM' }, retryable: true }]]);
    });

    it('fails the task non-retryably when the thrown error has retryable false', async () => {
      const { fake, worker } = gateway([leased('t1'), leased('t2')]);
      const stop = new AbortController();
      const running = worker.run(
        async (item) => {
          if (item.id === 't1') throw new TaskError('form is not a passport', { retryable: false });
          throw Object.assign(new Error('plain object flag'), { retryable: false });
        },
        { signal: stop.signal },
      );
      await eventually(() => fake.callsTo('/v1/tasks/').length === 2);
      stop.abort();
      await running;
      expect(fake.callsTo('/v1/tasks/').map((c) => (c.json as { retryable: boolean }).retryable)).toEqual([false, false]);
    });

    it('heartbeats the lease when the handler runs longer than the period', async () => {
      const { fake, worker } = gateway([leased('t1')]);
      const stop = new AbortController();
      const running = worker.run(
        async () => {
          await eventually(() => fake.callsTo('/v1/tasks/t1/heartbeat').length >= 2);
          return { ok: true };
        },
        { signal: stop.signal, heartbeatEverySeconds: 0.01, extendSeconds: 90 },
      );
      await eventually(() => fake.callsTo('/v1/tasks/t1/complete').length === 1);
      stop.abort();
      await running;
      expect(fake.callsTo('/v1/tasks/t1/heartbeat')[0].json).toEqual({ leaseToken: 'lease-t1', extendSeconds: 90 });
      const paths = fake.callsTo('/v1/tasks/').map((c) => c.path);
      // No heartbeat may follow the complete: the lease is gone by then.
      expect(paths[paths.length - 1]).toBe('/v1/tasks/t1/complete');
    });

    it('aborts the handler and drops its result when a heartbeat reports the lease lost', async () => {
      const { fake, worker } = gateway([leased('t1')], (call) =>
        call.path.endsWith('/heartbeat') ? { status: 409, body: { error: { code: 'LEASE_LOST', message: 'expired' }, requestId: 'x' } } : undefined,
      );
      const stop = new AbortController();
      const errors: unknown[] = [];
      let handlerSignal: AbortSignal | undefined;
      const running = worker.run(
        async (_item, { signal }) => {
          handlerSignal = signal;
          await eventually(() => signal.aborted);
          return { late: true };
        },
        { signal: stop.signal, heartbeatEverySeconds: 0.01, onError: (e) => errors.push(e) },
      );
      await eventually(() => errors.length === 1);
      stop.abort();
      await expect(running).resolves.toMatchObject({ lost: 1, completed: 0 });
      expect(handlerSignal?.aborted).toBe(true);
      expect(errors[0]).toMatchObject({ code: 'LEASE_LOST' });
      expect(fake.callsTo('/v1/tasks/t1/complete')).toHaveLength(0);
    });

    it('stops waiting for work and resolves when the signal aborts', async () => {
      const { fake, worker } = gateway([]);
      const stop = new AbortController();
      const running = worker.run(async () => ({}), { signal: stop.signal });
      await eventually(() => fake.calls.length === 1);
      expect(fake.calls[0].signal?.aborted).toBe(false);
      stop.abort();
      await expect(running).resolves.toEqual({ completed: 0, failed: 0, released: 0, lost: 0 });
      expect(fake.calls[0].signal?.aborted).toBe(true);
    });

    it('releases the task instead of failing it when the handler throws because of the abort', async () => {
      const { fake, worker } = gateway([leased('t1')]);
      const stop = new AbortController();
      const running = worker.run(
        async (_item, { signal }) => {
          await eventually(() => signal.aborted);
          throw new Error('interrupted');
        },
        { signal: stop.signal },
      );
      await eventually(() => fake.calls.length === 1);
      stop.abort();
      await expect(running).resolves.toMatchObject({ released: 1, failed: 0 });
      expect(taskCalls(fake)).toEqual([['/v1/tasks/t1/release', { leaseToken: 'lease-t1' }]]);
    });

    it('handles tasks in parallel when concurrency is above 1', async () => {
      const { fake, worker } = gateway([leased('t1'), leased('t2')]);
      const stop = new AbortController();
      let active = 0;
      let peak = 0;
      const running = worker.run(
        async () => {
          peak = Math.max(peak, ++active);
          await eventually(() => peak === 2 || fake.calls.length > 3);
          active--;
          return {};
        },
        { signal: stop.signal, concurrency: 2 },
      );
      await eventually(() => fake.callsTo('/v1/tasks/').length === 2);
      stop.abort();
      await running;
      expect(peak).toBe(2);
    });

    it('rejects when the lease is refused for good (403)', async () => {
      const fake = createFakeFetch(() => ({ status: 403, body: { error: { code: 'FORBIDDEN', message: 'not your pool' }, requestId: 'x' } }));
      const worker = new Pool('ocr', new HmsClient({ baseUrl: 'http://hms.test', fetch: fake.fetch })).login('bot');
      await expect(worker.run(async () => ({}))).rejects.toMatchObject({ code: 'FORBIDDEN' });
    });

    it('backs off and keeps leasing when the gateway is unavailable', async () => {
      jest.useFakeTimers();
      try {
        const fake = createFakeFetch();
        fake.enqueue({ status: 503, body: { error: { code: 'UNAVAILABLE', message: 'oms down' }, requestId: 'x' } });
        const worker = new Pool('ocr', new HmsClient({ baseUrl: 'http://hms.test', fetch: fake.fetch })).login('bot');
        const stop = new AbortController();
        const errors: unknown[] = [];
        const running = worker.run(async () => ({}), { signal: stop.signal, onError: (e) => errors.push(e) });
        await jest.advanceTimersByTimeAsync(10);
        expect(errors).toEqual([expect.objectContaining({ code: 'UNAVAILABLE' })]);
        expect(fake.calls).toHaveLength(1);
        await jest.advanceTimersByTimeAsync(1_000);
        expect(fake.calls).toHaveLength(2);
        stop.abort();
        await jest.advanceTimersByTimeAsync(1_000);
        await expect(running).resolves.toMatchObject({ completed: 0 });
      } finally {
        jest.useRealTimers();
      }
    });
  });
});
