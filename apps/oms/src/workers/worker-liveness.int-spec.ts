import { randomUUID } from 'node:crypto';
import { OmsHarness } from '../testing/oms-harness';

jest.setTimeout(60_000);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('OMS worker liveness', () => {
  let oms: OmsHarness;

  beforeAll(async () => {
    oms = await OmsHarness.start('oms_liveness', { OMS_WORKER_LIVENESS_SECONDS: '1' });
  });

  afterAll(async () => {
    await oms?.close();
  });

  it('requeues the leases of a silent worker, and keeps those of a worker that heartbeats', async () => {
    const pool = `live-${randomUUID().slice(0, 8)}`;
    const silentTask = await oms.queueTask({ pool, leaseSeconds: 300, priority: 1 });
    const busyTask = await oms.queueTask({ pool, leaseSeconds: 300, retry: { attempts: 1 } });
    const [silent] = (await oms.call('oms.task.lease', { pool, worker: 'ghost' })).tasks;
    const [busy] = (await oms.call('oms.task.lease', { pool, worker: 'diligent' })).tasks;
    expect([silent!.id, busy!.id]).toEqual([silentTask.id, busyTask.id]);

    const leasedAt = Date.now();
    const heartbeats = (async () => {
      while (Date.now() - leasedAt < 3_000) {
        await oms.call('oms.task.heartbeat', { taskId: busy!.id, leaseToken: busy!.leaseToken });
        await sleep(300);
      }
    })();

    const requeued = await oms.waitForEvent('oms.task.requeued', (e) => e.data.taskId === silentTask.id, 5_000);
    expect(requeued.data).toMatchObject({ reason: 'worker-gone', attempt: 1, pool });
    expect(Date.now() - leasedAt).toBeLessThan(2_500); // 1 s of silence, checked every 0.5 s
    expect((await oms.failure('oms.task.complete', { taskId: silent!.id, leaseToken: silent!.leaseToken, output: {} })).code).toBe('LEASE_LOST');
    expect((await oms.call('oms.task.get', { id: silentTask.id })).lastError).toMatchObject({ code: 'WORKER_GONE' });

    await heartbeats;
    expect(await oms.call('oms.task.get', { id: busyTask.id })).toMatchObject({ status: 'leased', worker: 'diligent' });
    expect(await oms.call('oms.task.complete', { taskId: busy!.id, leaseToken: busy!.leaseToken, output: {} })).toEqual({ id: busy!.id, status: 'completed' });
  });

  it('kills the task when the gone worker held its last attempt', async () => {
    const pool = `last-${randomUUID().slice(0, 8)}`;
    const task = await oms.queueTask({ pool, leaseSeconds: 300, retry: { attempts: 1 } });
    await oms.call('oms.task.lease', { pool, worker: 'vanished' });
    const dead = await oms.waitForEvent('oms.task.dead', (e) => e.data.taskId === task.id, 5_000);
    expect(dead.data).toMatchObject({ attempts: 1, error: { code: 'WORKER_GONE' } });
    expect(await oms.call('oms.task.get', { id: task.id })).toMatchObject({ status: 'dead', worker: 'vanished' });
  });

  it('announces a worker online in a pool once, offline after its silence, and online again when it is back', async () => {
    const pool = `presence-${randomUUID().slice(0, 8)}`;
    const worker = `clerk-${randomUUID().slice(0, 8)}`;
    const presence = () =>
      oms.events
        .filter((e) => (e.type === 'oms.worker.online' || e.type === 'oms.worker.offline') && (e.data as { worker: string }).worker === worker)
        .map((e) => `${e.type.slice('oms.worker.'.length)}:${(e.data as { pool: string }).pool}`);

    await oms.call('oms.task.lease', { pool, worker });
    await oms.call('oms.task.lease', { pool, worker, waitSeconds: 0 });
    const online = await oms.waitForEvent('oms.worker.online', (e) => e.data.worker === worker);
    expect(online.data).toEqual({ worker, pool });
    expect(online.requestId).toBeNull();

    const offline = await oms.waitForEvent('oms.worker.offline', (e) => e.data.worker === worker, 5_000);
    expect(offline.data).toMatchObject({ worker, pool, lastSeenAt: expect.any(String) });
    expect(offline.actor).toBe('system:oms');
    expect(await oms.sql(`SELECT 1 FROM oms.worker_pools WHERE worker = $1`, [worker])).toEqual([]);

    await oms.call('oms.task.lease', { pool, worker });
    await oms.waitForEvent('oms.worker.online', (e) => e.data.worker === worker && e.at > offline.at);
    expect(presence()).toEqual([`online:${pool}`, `offline:${pool}`, `online:${pool}`]);
  });

  it('keeps a worker that only sends worker heartbeats online in each pool it names, with its leases', async () => {
    const [leasedPool, idlePool] = [`hb-${randomUUID().slice(0, 8)}`, `hb-idle-${randomUUID().slice(0, 8)}`];
    const worker = `reader-${randomUUID().slice(0, 8)}`;
    const task = await oms.queueTask({ pool: leasedPool, leaseSeconds: 300 });
    const [leased] = (await oms.call('oms.task.lease', { pool: leasedPool, worker })).tasks;

    // 3 s of worker heartbeats only (3 liveness windows): no lease call, no task heartbeat.
    const started = Date.now();
    let last = await oms.call('oms.worker.heartbeat', { worker, pools: [leasedPool, idlePool, idlePool] });
    expect(last).toMatchObject({ worker, pools: [leasedPool, idlePool], livenessSeconds: 1 });
    while (Date.now() - started < 3_000) {
      await sleep(300);
      last = await oms.call('oms.worker.heartbeat', { worker, pools: [leasedPool, idlePool] });
    }
    expect(Date.parse(last.lastSeenAt)).toBeGreaterThan(started + 2_500);
    expect(await oms.call('oms.task.get', { id: task.id })).toMatchObject({ status: 'leased', worker });
    const online = oms.events.filter((e) => e.type === 'oms.worker.online' && (e.data as { worker: string }).worker === worker).map((e) => (e.data as { pool: string }).pool);
    expect(online.sort()).toEqual([leasedPool, idlePool].sort());
    expect(oms.events.some((e) => e.type === 'oms.worker.offline' && (e.data as { worker: string }).worker === worker)).toBe(false);
    expect(await oms.call('oms.task.complete', { taskId: leased!.id, leaseToken: leased!.leaseToken, output: {} })).toEqual({ id: task.id, status: 'completed' });

    // Once it stops, it goes offline from both pools like any silent worker.
    await oms.waitForEvent('oms.worker.offline', (e) => e.data.worker === worker && e.data.pool === idlePool, 5_000);
    await oms.waitForEvent('oms.worker.offline', (e) => e.data.worker === worker && e.data.pool === leasedPool, 5_000);
  });

  it('refuses a worker heartbeat without pools or with a malformed pool name', async () => {
    const none = await oms.failure('oms.worker.heartbeat', { worker: 'w', pools: [] });
    expect(none.code).toBe('VALIDATION_FAILED');
    expect(none.details).toEqual([expect.objectContaining({ path: 'pools' })]);
    expect((await oms.failure('oms.worker.heartbeat', { worker: 'w', pools: ['Not A Pool!'] })).code).toBe('VALIDATION_FAILED');
    expect((await oms.failure('oms.worker.heartbeat', { worker: '', pools: ['ocr'] })).code).toBe('VALIDATION_FAILED');
  });
});
