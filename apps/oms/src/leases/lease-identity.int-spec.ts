import { randomUUID } from 'node:crypto';
import { DEFAULT_MAX_LEASE_SECONDS, type Actor, type RpcRequest, type RpcSubject } from '@hms/contracts';
import { TasksService } from '../tasks/tasks.service';
import { eventually, OmsHarness, queueAtOnce, stepReadyEvent } from '../testing/oms-harness';
import { leasesHandedOff } from './lease-metrics';
import { TaskSignals } from './task-signals';

jest.setTimeout(60_000);

/**
 * A worker is its token, checked by OMS itself: these calls come straight over NATS with the
 * actor header the gateway would send, as a bot inside the trust boundary (or anyone who reaches
 * NATS) can send them, so the gateway's own checks are not in the way.
 */
describe('OMS lease identity', () => {
  let oms: OmsHarness;
  const pool = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;
  const workerActor = (id: string, pools: string[]): Actor => ({ id, roles: ['worker'], pools });
  const manager: Actor = { id: 'boss', roles: ['manager'] };

  const as = <S extends RpcSubject>(actor: Actor, subject: S, message: RpcRequest<S>) => oms.rpc.call(subject, message, { actor, timeoutMs: 5000 });
  const refusal = (call: Promise<unknown>) => call.then(() => ({ code: 'SUCCEEDED' }), (error: { code: string }) => ({ code: error.code }));

  beforeAll(async () => {
    // A parked long poll looks again by itself as seldom as OMS allows, so the hand-off test's waiter stays parked.
    oms = await OmsHarness.start('oms_lease_identity', { OMS_LONG_POLL_RECHECK_MS: '5000' });
  });

  afterAll(async () => {
    await oms?.close();
  });

  it('leases as the token\'s subject, and refuses a worker token that names another worker', async () => {
    const p = pool('who');
    const ana = workerActor('ana', [p]);
    await oms.queueTask({ pool: p, title: 'T' });
    expect(await refusal(as(ana, 'oms.task.lease', { pool: p, worker: 'mallory' }))).toEqual({ code: 'FORBIDDEN' });
    const { tasks } = await as(ana, 'oms.task.lease', { pool: p });
    expect(tasks).toHaveLength(1);
    expect(await oms.call('oms.task.get', { id: tasks[0]!.id })).toMatchObject({ worker: 'ana' });
    expect(await as(ana, 'oms.task.lease', { pool: p, worker: 'ana' })).toEqual({ tasks: [] });
  });

  it('lets a worker read a task only while it holds its lease; a manager and a service read any', async () => {
    const p = pool('read');
    const ana = workerActor('ana', [p]);
    const eve = workerActor('eve', [p]);
    const queued = await oms.queueTask({ pool: p, title: 'T', input: { passportNo: '987654321' } });
    expect(await refusal(as(ana, 'oms.task.get', { id: queued.id }))).toEqual({ code: 'FORBIDDEN' });
    const { tasks } = await as(ana, 'oms.task.lease', { pool: p });
    expect(await as(ana, 'oms.task.get', { id: queued.id })).toMatchObject({ id: queued.id, worker: 'ana', input: { passportNo: '987654321' } });
    expect(await refusal(as(eve, 'oms.task.get', { id: queued.id }))).toEqual({ code: 'FORBIDDEN' });
    expect(await refusal(as(ana, 'oms.task.get', { id: randomUUID() }))).toEqual({ code: 'NOT_FOUND' });
    expect(await as(manager, 'oms.task.get', { id: queued.id })).toMatchObject({ worker: 'ana' });
    expect(await as({ id: 'bots', roles: ['service'] }, 'oms.task.get', { id: queued.id })).toMatchObject({ worker: 'ana' });

    await as(ana, 'oms.task.complete', { taskId: queued.id, leaseToken: tasks[0]!.leaseToken, output: {} });
    // Its work is done: the task is no longer its to read.
    expect(await refusal(as(ana, 'oms.task.get', { id: queued.id }))).toEqual({ code: 'FORBIDDEN' });
  });

  it("takes a complete's next lease as the token's subject, and refuses another worker's name before completing", async () => {
    const p = pool('next');
    const ana = workerActor('ana', [p]);
    await oms.queueTask({ pool: p, title: 'one' });
    const [first] = (await as(ana, 'oms.task.lease', { pool: p })).tasks;
    const second = await oms.queueTask({ pool: p, title: 'two' });
    const lease = { taskId: first!.id, leaseToken: first!.leaseToken };
    expect(await refusal(as(ana, 'oms.task.complete', { ...lease, next: { pool: p, worker: 'mallory' } }))).toEqual({ code: 'FORBIDDEN' });
    expect(await refusal(as(ana, 'oms.task.complete-many', { items: [lease], next: { pool: p, worker: 'mallory' } }))).toEqual({ code: 'FORBIDDEN' });
    expect(await oms.call('oms.task.get', { id: first!.id })).toMatchObject({ status: 'leased', worker: 'ana' });
    expect(await oms.call('oms.task.get', { id: second.id })).toMatchObject({ status: 'queued' });

    const done = await as(ana, 'oms.task.complete', { ...lease, next: { pool: p } });
    expect(done.next!.tasks.map((task) => task.id)).toEqual([second.id]);
    expect(await oms.call('oms.task.get', { id: second.id })).toMatchObject({ status: 'leased', worker: 'ana' });
  });

  it('lets a worker heartbeat only itself, so one token cannot keep many workers online', async () => {
    const p = pool('beat');
    const ana = workerActor('ana', [p]);
    for (let i = 0; i < 5; i += 1) expect(await refusal(as(ana, 'oms.worker.heartbeat', { worker: `ghost-${i}`, pools: [p] }))).toEqual({ code: 'FORBIDDEN' });
    expect(await as(ana, 'oms.worker.heartbeat', { worker: 'ana', pools: [p] })).toMatchObject({ worker: 'ana' });
    expect(await oms.sql(`SELECT worker FROM oms.worker_pools WHERE pool = $1`, [p])).toEqual([{ worker: 'ana' }]);
  });

  it('refuses a lease token used by a worker that does not hold the lease, and lets the holder and a manager use it', async () => {
    const p = pool('holder');
    const ana = workerActor('ana', [p]);
    const eve = workerActor('eve', [p]);
    await oms.queueTask({ pool: p, title: 'one' });
    await oms.queueTask({ pool: p, title: 'two' });
    const { tasks } = await as(ana, 'oms.task.lease', { pool: p, max: 2 });
    const [first, second] = tasks;
    const lease = { taskId: first!.id, leaseToken: first!.leaseToken };

    expect(await refusal(as(eve, 'oms.task.complete', { ...lease, output: { forged: true } }))).toEqual({ code: 'FORBIDDEN' });
    expect(await refusal(as(eve, 'oms.task.heartbeat', { ...lease, extendSeconds: 60 }))).toEqual({ code: 'FORBIDDEN' });
    expect(await refusal(as(eve, 'oms.task.fail', { ...lease, error: { message: 'sabotage' }, retryable: false }))).toEqual({ code: 'FORBIDDEN' });
    expect(await refusal(as(eve, 'oms.task.release', lease))).toEqual({ code: 'FORBIDDEN' });
    const batch = await as(eve, 'oms.task.complete-many', { items: [{ ...lease, output: {} }] });
    expect(batch.results).toEqual([{ id: first!.id, error: { code: 'FORBIDDEN', message: expect.any(String) } }]);
    expect(await oms.call('oms.task.get', { id: first!.id })).toMatchObject({ status: 'leased', worker: 'ana', attempt: 1 });

    expect(await as(ana, 'oms.task.complete', { ...lease, output: { ok: true } })).toEqual({ id: first!.id, status: 'completed' });
    // A manager may take a lease back (force-release) with its token, whoever holds it.
    expect(await as(manager, 'oms.task.release', { taskId: second!.id, leaseToken: second!.leaseToken })).toEqual({ id: second!.id, status: 'queued' });
  });

  it('lets a manager force-release a lease without its token, and refuses a worker or a service that tries', async () => {
    const p = pool('force');
    const ana = workerActor('ana', [p]);
    const queued = await oms.queueTask({ pool: p, title: 'T' });
    const [task] = (await as(ana, 'oms.task.lease', { pool: p })).tasks;

    for (const caller of [ana, { id: 'bots', roles: ['service'] } as Actor]) {
      const refused = await oms.rpc.call('oms.task.release', { taskId: task!.id }, { actor: caller, timeoutMs: 5000 }).catch((error: { code: string; details?: unknown }) => error);
      expect(refused).toMatchObject({ code: 'VALIDATION_FAILED', details: [expect.objectContaining({ path: 'leaseToken' })] });
    }
    expect(await oms.call('oms.task.get', { id: task!.id })).toMatchObject({ status: 'leased', worker: 'ana', attempt: 1 });

    expect(await as(manager, 'oms.task.release', { taskId: task!.id })).toEqual({ id: task!.id, status: 'queued' });
    expect(await oms.call('oms.task.get', { id: task!.id })).toMatchObject({ status: 'queued', worker: null, attempt: 0 });
    const requeued = await oms.waitForEvent('oms.task.requeued', (event) => event.data.taskId === task!.id);
    expect(requeued).toMatchObject({ actor: 'boss', data: { reason: 'released', attempt: 0, pool: p } });
    // The holder's old token is dead, and there is no lease left to force-release.
    expect(await refusal(as(ana, 'oms.task.complete', { taskId: task!.id, leaseToken: task!.leaseToken, output: {} }))).toEqual({ code: 'LEASE_LOST' });
    expect(await refusal(as(manager, 'oms.task.release', { taskId: task!.id }))).toEqual({ code: 'CONFLICT' });
    expect(await refusal(as(manager, 'oms.task.release', { taskId: randomUUID() }))).toEqual({ code: 'NOT_FOUND' });
    // Offered again at once: the next lease is attempt 1, not 2.
    expect((await as(ana, 'oms.task.lease', { pool: p })).tasks).toEqual([expect.objectContaining({ id: queued.id, attempt: 1 })]);
  });

  it("caps an asked lease and heartbeat extension at the pool's maxLeaseSeconds", async () => {
    const p = pool('cap');
    const ana = workerActor('ana', [p]);
    const week = 7 * 24 * 3600;
    expect(await oms.call('oms.pool.upsert', { pool: p, kind: 'human', leaseSeconds: 60, maxLeaseSeconds: 120 })).toMatchObject({ leaseSeconds: 60, maxLeaseSeconds: 120 });
    await oms.queueTask({ pool: p, title: 'T' });
    const before = Date.now();
    const [task] = (await as(ana, 'oms.task.lease', { pool: p, leaseSeconds: week })).tasks;
    expect(Date.parse(task!.leaseExpiresAt) - before).toBeLessThanOrEqual(121_000);
    const beat = await as(ana, 'oms.task.heartbeat', { taskId: task!.id, leaseToken: task!.leaseToken, extendSeconds: week });
    expect(Date.parse(beat.leaseExpiresAt) - Date.now()).toBeLessThanOrEqual(121_000);
    // Within the cap, the ask is granted as asked.
    const shorter = await as(ana, 'oms.task.heartbeat', { taskId: task!.id, leaseToken: task!.leaseToken, extendSeconds: 90 });
    expect(Date.parse(shorter.leaseExpiresAt) - Date.now()).toBeGreaterThan(80_000);

    const unset = pool('default-cap');
    expect(await oms.call('oms.pool.upsert', { pool: unset, kind: 'bot' })).toMatchObject({ maxLeaseSeconds: DEFAULT_MAX_LEASE_SECONDS });
    await oms.queueTask({ pool: unset, title: 'T' });
    const [other] = (await as(workerActor('bot', [unset]), 'oms.task.lease', { pool: unset, leaseSeconds: week })).tasks;
    expect(Date.parse(other!.leaseExpiresAt) - Date.now()).toBeLessThanOrEqual(DEFAULT_MAX_LEASE_SECONDS * 1000);
  });

  it('caps the lease a long poll asked for when the task is handed to it as it is queued', async () => {
    const p = pool('handoff');
    await oms.call('oms.pool.upsert', { pool: p, kind: 'bot', leaseSeconds: 30, maxLeaseSeconds: 45 });
    const signals = oms.replicas[0]!.get(TaskSignals);
    const parked = as(workerActor('idle-bot', [p]), 'oms.task.lease', { pool: p, leaseSeconds: 7 * 24 * 3600, waitSeconds: 10 });
    // Parked: past its first empty look, waiting for a signal (so the queueing statement hands the task over).
    const parkedWaiter = () => [...(signals['waiters'].get(p) ?? [])].find((waiter) => waiter.isParked);
    await eventually(async () => (parkedWaiter() ? true : undefined), 5_000, 'the long poll to park');
    const event = stepReadyEvent(p);
    expect(await queueAtOnce(oms.replicas[0]!.get(TasksService), event)).toBe('handled');
    const [task] = (await parked).tasks;
    const [row] = await oms.sql<{ worker: string; lease_duration_seconds: number }>(`SELECT worker, lease_duration_seconds FROM oms.tasks WHERE id = $1`, [task!.id]);
    expect(row).toEqual({ worker: 'idle-bot', lease_duration_seconds: 45 });
    // Handed over by the queueing statement itself (queue-task.sql.ts), not leased by a later look.
    expect((await leasesHandedOff.get()).values.find((v) => v.labels.pool === p)?.value).toBe(1);
  });

  it('shows the escalation webhook to managers and services only', async () => {
    const p = pool('hook');
    await oms.call('oms.pool.upsert', { pool: p, kind: 'human', escalation: { webhook: 'https://hooks.example/hms', pool: 'supervisors' } });
    expect((await as(workerActor('ana', [p]), 'oms.pool.get', { pool: p })).escalation).toEqual({ pool: 'supervisors' });
    expect((await as(manager, 'oms.pool.get', { pool: p })).escalation).toEqual({ pool: 'supervisors', webhook: 'https://hooks.example/hms' });
    const listed = await as(workerActor('ana', [p]), 'oms.pool.list', {});
    expect(listed.items.find((view) => view.pool === p)?.escalation).toEqual({ pool: 'supervisors' });
  });

  it.each([
    ['ftp://hooks.example/x', 'a scheme other than http(s)'],
    ['hooks.example/x', 'no scheme'],
    ['https://user:secret@hooks.example/x', 'credentials in the URL'],
    [`https://hooks.example/${'a'.repeat(2100)}`, 'a URL too long'],
  ])('refuses the webhook %s (%s) with the path of the field', async (webhook) => {
    const failure = await oms.failure('oms.pool.upsert', { pool: pool('bad-hook'), kind: 'human', escalation: { webhook } });
    expect(failure).toMatchObject({ code: 'VALIDATION_FAILED', details: [expect.objectContaining({ path: 'escalation.webhook' })] });
  });
});
