import { randomUUID } from 'node:crypto';
import type { LeaseTasksResult } from '@hms/contracts';
import { eventually, OmsHarness } from '../testing/oms-harness';
import { TaskSignals } from './task-signals';

jest.setTimeout(60_000);

/** A long-poll in flight: its result and how long it took to come back. */
function longPoll(oms: OmsHarness, pool: string, waitSeconds: number, extra: { worker?: string; tags?: string[]; max?: number } = {}) {
  const started = Date.now();
  return oms
    .call('oms.task.lease', { pool, worker: extra.worker ?? 'poller', waitSeconds, ...extra }, (waitSeconds + 5) * 1000)
    .then((result: LeaseTasksResult) => ({ ...result, tookMs: Date.now() - started }));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('OMS long-poll leasing', () => {
  let oms: OmsHarness;
  const pool = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    // Two replicas on one database: the lease call and the consumer that queues the task may
    // land on different processes, as in production.
    // A re-check slower than any test here: only the signals can make these calls return early.
    oms = await OmsHarness.start('oms_long_poll', { OMS_LONG_POLL_RECHECK_MS: '30000' });
    await oms.startReplica();
  });

  afterAll(async () => {
    await oms?.close();
  });

  it('returns as soon as a task is queued while waiting, not at the deadline', async () => {
    const p = pool('wake');
    const polls = Array.from({ length: 4 }, (_, i) => longPoll(oms, p, 10, { worker: `w${i}` }));
    await sleep(400);
    const published = Date.now();
    for (let i = 0; i < 4; i++) await oms.stepReady({ pool: p });
    const results = await Promise.all(polls);
    for (const result of results) {
      expect(result.tasks).toHaveLength(1);
      expect(result.tookMs).toBeLessThan(5_000);
    }
    expect(Date.now() - published).toBeLessThan(1_500);
    expect(new Set(results.map((r) => r.tasks[0]!.id)).size).toBe(4);
  });

  it('answers an empty list at the deadline when nothing comes', async () => {
    const result = await longPoll(oms, pool('idle'), 1);
    expect(result.tasks).toEqual([]);
    expect(result.tookMs).toBeGreaterThanOrEqual(950);
    expect(result.tookMs).toBeLessThan(3_000);
  });

  it('takes what is already queued without waiting', async () => {
    const p = pool('ready');
    await oms.queueTask({ pool: p });
    const result = await longPoll(oms, p, 10);
    expect(result.tasks).toHaveLength(1);
    expect(result.tookMs).toBeLessThan(1_000);
  });

  it('wakes a waiter whose tags match, and not one whose tags do not', async () => {
    const p = pool('tags');
    const french = longPoll(oms, p, 3, { worker: 'fr', tags: ['fr'] });
    const spanish = longPoll(oms, p, 10, { worker: 'es', tags: ['es'] });
    await sleep(400);
    const started = Date.now();
    await oms.stepReady({ pool: p, tags: ['es'] });
    const got = await spanish;
    expect(got.tasks.map((t) => t.tags)).toEqual([['es']]);
    expect(Date.now() - started).toBeLessThan(1_500);
    expect((await french).tasks).toEqual([]);
  });

  it('wakes a waiter when a task is released, rerouted in, or leaves its backoff', async () => {
    const p = pool('requeue');
    const task = await oms.queueTask({ pool: p, retry: { attempts: 3, backoffSeconds: 1, backoffFactor: 1 } });
    const [held] = (await oms.call('oms.task.lease', { pool: p, worker: 'holder' })).tasks;

    const afterRelease = longPoll(oms, p, 10, { worker: 'next' });
    await sleep(300);
    let started = Date.now();
    await oms.call('oms.task.release', { taskId: task.id, leaseToken: held!.leaseToken });
    const released = await afterRelease;
    expect(released.tasks.map((t) => t.id)).toEqual([task.id]);
    expect(Date.now() - started).toBeLessThan(1_000);

    const afterBackoff = longPoll(oms, p, 10, { worker: 'patient' });
    await sleep(300);
    started = Date.now();
    const failed = await oms.call('oms.task.fail', { taskId: task.id, leaseToken: released.tasks[0]!.leaseToken, error: { message: 'later' } });
    const retried = await afterBackoff;
    expect(retried.tasks.map((t) => [t.id, t.attempt])).toEqual([[task.id, 2]]);
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(failed.retryAt!));
    expect(Date.now() - started).toBeLessThan(1_900); // 1 s backoff ± 10 %, then the wake-up

    const other = pool('other');
    const inOther = longPoll(oms, other, 10, { worker: 'elsewhere' });
    await sleep(300);
    started = Date.now();
    await oms.call('oms.task.reroute', { taskId: task.id, pool: other });
    expect((await inOther).tasks.map((t) => t.id)).toEqual([task.id]);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

});

describe('OMS long-poll leasing on one replica', () => {
  let oms: OmsHarness;
  const pool = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;

  beforeEach(async () => {
    oms = await OmsHarness.start('oms_long_poll_one', { OMS_LONG_POLL_RECHECK_MS: '30000' });
  });

  afterEach(async () => {
    await oms?.close();
  });

  it('serves waiters first come first served', async () => {
    const p = pool('fifo');
    const order: string[] = [];
    const polls: Array<Promise<void>> = [];
    for (const worker of ['first', 'second', 'third']) {
      polls.push(longPoll(oms, p, 10, { worker }).then((result) => void order.push(`${worker}:${result.tasks.length}`)));
      // The next caller comes once this one waits (a call writes its worker's presence just
      // before it joins the waiters), not after a guessed delay a loaded machine can outlast.
      await eventually(async () => ((await oms.sql(`SELECT 1 FROM oms.workers WHERE id = $1`, [worker])).length > 0 ? true : undefined), 5_000, `${worker} waiting`);
    }
    // One at a time: each announcement goes to the longest waiting caller.
    for (let i = 0; i < 3; i++) {
      await oms.queueTask({ pool: p });
      await eventually(async () => (order.length > i ? true : undefined), 5_000, `waiter ${i + 1} served`);
    }
    await Promise.all(polls);
    expect(order).toEqual(['first:1', 'second:1', 'third:1']);
  });

  it('wakes one waiter per announced task, not every waiter', async () => {
    const p = pool('herd');
    const polls: Array<ReturnType<typeof longPoll>> = [];
    for (let i = 0; i < 5; i++) {
      polls.push(longPoll(oms, p, 4, { worker: `w${i}` }));
      // In order: w0 waits longest (see "first come first served").
      await eventually(async () => ((await oms.sql(`SELECT 1 FROM oms.workers WHERE id = $1`, [`w${i}`])).length > 0 ? true : undefined), 5_000, `w${i} waiting`);
    }
    await sleep(1_000);
    const before = await oms.sql<{ n: number }>(`SELECT count(*)::int AS n FROM oms.workers WHERE id LIKE 'w_' AND last_seen_at > now() - interval '0.2 second'`);
    expect(before[0]!.n).toBe(0);
    await oms.queueTask({ pool: p });
    await sleep(300);
    // Each lease attempt refreshes its worker's last_seen_at: only the woken one looked again.
    const looked = await oms.sql<{ id: string }>(`SELECT id FROM oms.workers WHERE id LIKE 'w_' AND last_seen_at > now() - interval '0.5 second'`);
    expect(looked.map((r) => r.id)).toEqual(['w0']);
    const results = await Promise.all(polls);
    expect(results.map((r) => r.tasks.length)).toEqual([1, 0, 0, 0, 0]);
  });

  it('ends waiting long-polls with an empty answer when the replica stops', async () => {
    const p = pool('stop');
    const waiting = longPoll(oms, p, 20);
    // Stop only once the call is waiting on the replica; stopping earlier would leave it unanswered.
    const signals = oms.replicas[0]!.get(TaskSignals);
    await eventually(async () => (signals.waitingIn(p) === 1 ? true : undefined), 10_000, 'the long-poll to be waiting');
    const started = Date.now();
    await oms.stopReplica(oms.replicas[0]!);
    expect(Date.now() - started).toBeLessThan(3_000);
    const result = await waiting;
    expect(result.tasks).toEqual([]);
    expect(result.tookMs).toBeLessThan(5_000);
  });
});
