import { randomUUID } from 'node:crypto';
import { WORKER_LIVENESS_LIMITS } from '@hms/contracts';
import { OmsHarness } from '../testing/oms-harness';

jest.setTimeout(60_000);

const SHORT = WORKER_LIVENESS_LIMITS.minSeconds;
const DEFAULT = 3600;

/*
 * The harness has no controllable clock (OMS reads the system clock, and so do Postgres and the
 * long-polls), so the first test really waits out the shortest window a pool may have, 10 s.
 */
describe('OMS per-pool worker liveness', () => {
  let oms: OmsHarness;
  const name = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    // Long polls re-look only every minute, so a parked worker is kept online by its wait alone.
    oms = await OmsHarness.start('oms_pool_liveness', { OMS_WORKER_LIVENESS_SECONDS: String(DEFAULT), OMS_LONG_POLL_RECHECK_MS: '60000' });
  });

  afterAll(async () => {
    await oms?.close();
  });

  it("requeues a silent worker's lease and declares it gone after the short window of that pool only", async () => {
    const [shortPool, defaultPool] = [name('short'), name('default')];
    const worker = name('silent');
    expect(await oms.call('oms.pool.upsert', { pool: shortPool, kind: 'bot', workerLivenessSeconds: SHORT })).toMatchObject({ workerLivenessSeconds: SHORT });
    expect(await oms.call('oms.pool.upsert', { pool: defaultPool, kind: 'bot' })).toMatchObject({ workerLivenessSeconds: DEFAULT });
    const shortTask = await oms.queueTask({ pool: shortPool, leaseSeconds: 300 });
    const defaultTask = await oms.queueTask({ pool: defaultPool, leaseSeconds: 300 });

    const [shortLease] = (await oms.call('oms.task.lease', { pool: shortPool, worker })).tasks;
    const [defaultLease] = (await oms.call('oms.task.lease', { pool: defaultPool, worker })).tasks;
    const [{ last_seen_at: lastSeenAt }] = await oms.sql<{ last_seen_at: Date }>(`SELECT last_seen_at FROM oms.workers WHERE id = $1`, [worker]);
    expect([shortLease!.id, defaultLease!.id]).toEqual([shortTask.id, defaultTask.id]);

    const requeued = await oms.waitForEvent('oms.task.requeued', (e) => e.data.taskId === shortTask.id, 20_000);
    expect(requeued.data).toMatchObject({ reason: 'worker-gone', pool: shortPool, attempt: 1 });
    // Not before the pool's window; that it came at all within the wait above (20 s) shows the
    // default window (an hour) did not apply. Promptness, one check interval of ~1.7 s, is not
    // asserted: a loaded CI machine may delay a check by seconds.
    const silence = Date.parse(requeued.at) - lastSeenAt.getTime();
    expect(silence).toBeGreaterThanOrEqual(SHORT * 1000);
    expect((await oms.call('oms.task.get', { id: shortTask.id })).lastError).toMatchObject({ code: 'WORKER_GONE' });

    const offline = await oms.waitForEvent('oms.worker.offline', (e) => e.data.worker === worker, 15_000);
    expect(offline.data).toEqual({ worker, pool: shortPool, lastSeenAt: lastSeenAt.toISOString() });

    // Two more checks later, the same silence is still well within the default pool's window.
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    expect(await oms.call('oms.task.get', { id: defaultTask.id })).toMatchObject({ status: 'leased', worker });
    expect(oms.events.filter((e) => e.type === 'oms.worker.offline' && (e.data as { worker: string }).worker === worker)).toHaveLength(1);
    expect(await oms.sql(`SELECT pool FROM oms.worker_pools WHERE worker = $1`, [worker])).toEqual([{ pool: defaultPool }]);
    expect(await oms.call('oms.task.complete', { taskId: defaultLease!.id, leaseToken: defaultLease!.leaseToken, output: {} })).toEqual({ id: defaultTask.id, status: 'completed' });

    // Back in the short pool, it is online there again.
    await oms.call('oms.task.lease', { pool: shortPool, worker });
    await oms.waitForEvent('oms.worker.online', (e) => e.data.worker === worker && e.data.pool === shortPool && e.at > offline.at);
  });

  it('answers a worker heartbeat with the smallest window among its pools', async () => {
    const [quick, slow, plain, unknown] = [name('quick'), name('slow'), name('plain'), name('unknown')];
    await oms.call('oms.pool.upsert', { pool: quick, kind: 'human', workerLivenessSeconds: 30 });
    await oms.call('oms.pool.upsert', { pool: slow, kind: 'human', workerLivenessSeconds: 7200 });
    await oms.call('oms.pool.upsert', { pool: plain, kind: 'human' });
    const worker = name('reader');
    const beat = (pools: string[]) => oms.call('oms.worker.heartbeat', { worker, pools });

    expect(await beat([slow, plain, quick])).toMatchObject({ worker, pools: [slow, plain, quick], livenessSeconds: 30 });
    expect(await beat([slow])).toMatchObject({ livenessSeconds: 7200 });
    expect(await beat([slow, plain])).toMatchObject({ livenessSeconds: DEFAULT });
    // A pool that does not exist yet counts with the default, as it will once created.
    expect(await beat([slow, unknown])).toMatchObject({ livenessSeconds: DEFAULT });
    expect(await oms.sql(`SELECT 1 FROM oms.pools WHERE name = $1`, [unknown])).toEqual([]);

    // The answer follows a changed window at once.
    await oms.call('oms.pool.upsert', { pool: slow, kind: 'human', workerLivenessSeconds: 12 });
    expect(await beat([slow, quick])).toMatchObject({ livenessSeconds: 12 });
  });

  it('keeps a worker parked in a long poll for longer than the window online, with the lease it holds', async () => {
    const pool = name('parked');
    const worker = name('poller');
    await oms.call('oms.pool.upsert', { pool, kind: 'bot', workerLivenessSeconds: SHORT });
    const held = await oms.queueTask({ pool, leaseSeconds: 300 });
    const [lease] = (await oms.call('oms.task.lease', { pool, worker })).tasks;
    expect(lease!.id).toBe(held.id);

    // Its only call for longer than the window is a long poll of the emptied pool: waiting in a
    // call is not silence. (Without that, the lease it holds came back at about SHORT + 2 s.)
    const waitSeconds = SHORT + 6;
    const polled = await oms.call('oms.task.lease', { pool, worker, waitSeconds }, (waitSeconds + 10) * 1000);
    expect(polled.tasks).toEqual([]);
    expect(await oms.call('oms.task.get', { id: held.id })).toMatchObject({ status: 'leased', worker, attempt: 1 });
    expect(oms.events.some((e) => e.type === 'oms.worker.offline' && (e.data as { worker: string }).worker === worker)).toBe(false);
    const [{ silent_ms: silentMs }] = await oms.sql<{ silent_ms: number }>(
      `SELECT EXTRACT(EPOCH FROM (now() - last_seen_at)) * 1000 AS silent_ms FROM oms.workers WHERE id = $1`,
      [worker],
    );
    expect(Number(silentMs)).toBeLessThan(SHORT * 1000);
    expect(await oms.call('oms.task.complete', { taskId: held.id, leaseToken: lease!.leaseToken, output: {} })).toEqual({ id: held.id, status: 'completed' });
  });

  it('starts the window of a worker handed its task at the end of a long poll from the hand-off, not from its last look', async () => {
    const pool = name('handed');
    const worker = name('waiting');
    await oms.call('oms.pool.upsert', { pool, kind: 'bot', workerLivenessSeconds: SHORT });
    const parked = oms.call('oms.task.lease', { pool, worker, waitSeconds: 10 }, 20_000);
    await new Promise((resolve) => setTimeout(resolve, 300));

    // A parked call looks again only every half window, so at the hand-off its worker may have
    // been seen last that long ago; backdating stands in for that, and a little more.
    await oms.sql(`UPDATE oms.workers SET last_seen_at = now() - interval '8 seconds' WHERE id = $1`, [worker]);
    const { requestId, stepId } = await oms.stepReady({ pool });
    const [lease] = (await parked).tasks;
    expect(lease).toMatchObject({ requestId, stepId, attempt: 1 });
    const [{ silent_ms: silentMs }] = await oms.sql<{ silent_ms: number }>(
      `SELECT EXTRACT(EPOCH FROM (now() - last_seen_at)) * 1000 AS silent_ms FROM oms.workers WHERE id = $1`,
      [worker],
    );
    expect(Number(silentMs)).toBeLessThan(2_000);

    // Working on it quietly for less than a window is not silence for longer than one.
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    expect(await oms.call('oms.task.get', { id: lease!.id })).toMatchObject({ status: 'leased', worker, attempt: 1 });
    expect(oms.events.some((e) => e.type === 'oms.worker.offline' && (e.data as { worker: string }).worker === worker)).toBe(false);
    expect(await oms.call('oms.task.complete', { taskId: lease!.id, leaseToken: lease!.leaseToken, output: {} })).toEqual({ id: lease!.id, status: 'completed' });
  });

  it('keeps a worker that heartbeats within the short window online there, with its lease', async () => {
    const pool = name('kept');
    const worker = name('diligent');
    await oms.call('oms.pool.upsert', { pool, kind: 'human', workerLivenessSeconds: SHORT });
    const task = await oms.queueTask({ pool, leaseSeconds: 300 });
    const [lease] = (await oms.call('oms.task.lease', { pool, worker })).tasks;
    expect(lease!.id).toBe(task.id);

    // Backdating its last call by most of the window stands in for waiting it out; the worker
    // heartbeat then restarts the window.
    await oms.sql(`UPDATE oms.workers SET last_seen_at = now() - interval '8 seconds' WHERE id = $1`, [worker]);
    expect(await oms.call('oms.worker.heartbeat', { worker, pools: [pool] })).toMatchObject({ livenessSeconds: SHORT });
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    expect(await oms.call('oms.task.get', { id: task.id })).toMatchObject({ status: 'leased', worker });
    expect(oms.events.some((e) => e.type === 'oms.worker.offline' && (e.data as { worker: string }).worker === worker)).toBe(false);

    // Silent since before the window: gone on the next check, in seconds.
    await oms.sql(`UPDATE oms.workers SET last_seen_at = now() - interval '${SHORT + 1} seconds' WHERE id = $1`, [worker]);
    await oms.waitForEvent('oms.task.requeued', (e) => e.data.taskId === task.id && e.data.reason === 'worker-gone', 15_000);
    await oms.waitForEvent('oms.worker.offline', (e) => e.data.worker === worker && e.data.pool === pool, 15_000);
  });
});
