import { randomUUID } from 'node:crypto';
import type { LeasedTask, TaskView } from '@hms/contracts';
import { startNatsServer, testNatsAuth } from '@hms/testing';
import { OmsHarness } from '../testing/oms-harness';
import { leasedTaskBytesSql } from './lease-acquire.sql';

jest.setTimeout(60_000);

/** A small NATS `max_payload`, so tasks that do not fit together are a few tens of KB (the same story as 400 KB tasks under the default 1 MiB). */
const MAX_PAYLOAD = 64 * 1024;

/** A payload of about `bytes` as JSON. */
const payloadOf = (bytes: number) => ({ blob: 'x'.repeat(bytes) });

describe('OMS within NATS max_payload', () => {
  let nats: { url: string; stop(): Promise<void> };
  let oms: OmsHarness;
  const pool = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    // With the run's users, as every server of the suite.
    nats = await startNatsServer({ maxPayload: MAX_PAYLOAD, auth: testNatsAuth() });
    oms = await OmsHarness.start('oms_wire_size', {}, { natsUrl: nats.url });
  });

  afterAll(async () => {
    await oms?.close();
    await nats?.stop();
  });

  it('leases only the tasks that fit in one answer, leaves the rest queued for the next call, and keeps serving', async () => {
    expect(oms.bus.maxPayload).toBe(MAX_PAYLOAD);
    const p = pool('fit');
    const queued: TaskView[] = [];
    for (let i = 0; i < 3; i += 1) queued.push(await oms.queueTask({ pool: p, title: `big ${i}`, payload: payloadOf(25_000) }));

    const first = await oms.call('oms.task.lease', { pool: p, worker: 'w1', max: 3 });
    expect(first.tasks.map((task) => task.payload)).toEqual([payloadOf(25_000), payloadOf(25_000)]);
    const [left] = queued.filter((task) => !first.tasks.some((leased) => leased.id === task.id));
    expect(await oms.call('oms.task.get', { id: left!.id })).toMatchObject({ status: 'queued', attempt: 0, worker: null });

    const second = await oms.call('oms.task.lease', { pool: p, worker: 'w2', max: 3 });
    expect(second.tasks.map((task) => task.id)).toEqual([left!.id]);
    for (const task of [...first.tasks, ...second.tasks]) {
      expect(await oms.call('oms.task.complete', { taskId: task.id, leaseToken: task.leaseToken, output: { ok: true } })).toEqual({ id: task.id, status: 'completed' });
    }
    expect(oms.events.filter((event) => event.type === 'oms.task.leased' && queued.some((task) => task.id === (event.data as { taskId: string }).taskId))).toHaveLength(3);
  });

  it('counts no task smaller than it is in an answer, whatever its texts hold', async () => {
    const p = pool('bound');
    const awkward = 'quote " backslash \\ newline \n control \u0001 é 😀 </script>';
    await oms.queueTask({ pool: p, title: awkward, tags: ['é', 'a"b'], payload: { text: awkward, n: [1e21, 0.1, -0, 123456789012], nested: { deep: [awkward] } } });
    const [leased] = (await oms.call('oms.task.lease', { pool: p, worker: 'w1' })).tasks as [LeasedTask];
    const [{ bytes }] = await oms.sql<{ bytes: number }>(`SELECT ${leasedTaskBytesSql} AS bytes FROM oms.tasks WHERE id = $1`, [leased.id]);
    expect(bytes).toBeGreaterThanOrEqual(Buffer.byteLength(JSON.stringify(leased)) + 1);
  });

  it('answers 413 for a task too large to hand out on its own, and leaves it queued', async () => {
    const p = pool('alone');
    const task = await oms.queueTask({ pool: p, payload: { small: true } });
    // As if max_payload had been lowered after the task was queued: it no longer fits any answer.
    await oms.sql(`UPDATE oms.tasks SET payload = $2::jsonb, payload_bytes = octet_length($2::text) WHERE id = $1`, [task.id, JSON.stringify(payloadOf(70_000))]);

    const refused = await oms.failure('oms.task.lease', { pool: p, worker: 'w1', max: 3 });
    expect(refused).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', details: [{ path: 'tasks[0]', message: expect.stringContaining(task.id) }] });
    expect(await oms.call('oms.task.get', { id: task.id }).catch((error: { code: string }) => error.code)).toBe('PAYLOAD_TOO_LARGE');
    const [row] = await oms.sql<{ status: string; attempt: number; worker: string | null }>(`SELECT status, attempt, worker FROM oms.tasks WHERE id = $1`, [task.id]);
    expect(row).toEqual({ status: 'queued', attempt: 0, worker: null });
    expect((await oms.call('oms.task.lease', { pool: pool('other'), worker: 'w1' })).tasks).toEqual([]);
  });

  it("leaves a complete's next lease empty when its task does not fit the answer, and the completion stands", async () => {
    const p = pool('next');
    const small = await oms.queueTask({ pool: p, payload: { small: true } });
    const [leased] = (await oms.call('oms.task.lease', { pool: p, worker: 'w1' })).tasks as [LeasedTask];
    const big = await oms.queueTask({ pool: p, payload: { small: true } });
    await oms.sql(`UPDATE oms.tasks SET payload = $2::jsonb, payload_bytes = octet_length($2::text) WHERE id = $1`, [big.id, JSON.stringify(payloadOf(70_000))]);

    const done = await oms.call('oms.task.complete', { taskId: small.id, leaseToken: leased.leaseToken, next: { pool: p, worker: 'w1' } });
    expect(done).toEqual({ id: small.id, status: 'completed', next: { tasks: [] } });
    expect(await oms.call('oms.task.get', { id: small.id }).catch((error: { code: string }) => error.code)).toMatchObject({ status: 'completed' });
    // The lease call is where the worker learns why.
    expect((await oms.failure('oms.task.lease', { pool: p, worker: 'w1' })).code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('refuses at the complete an output that would make its event too large, and the lease still holds', async () => {
    const p = pool('output');
    await oms.queueTask({ pool: p });
    const [leased] = (await oms.call('oms.task.lease', { pool: p, worker: 'w1' })).tasks as [LeasedTask];

    // Fits in the request, not in `oms.task.completed` with room for what carries it on.
    const refused = await oms.failure('oms.task.complete', { taskId: leased.id, leaseToken: leased.leaseToken, output: payloadOf(55_000) });
    expect(refused).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', details: [{ path: 'output' }] });
    expect(await oms.call('oms.task.get', { id: leased.id })).toMatchObject({ status: 'leased', output: null });
    const many = await oms.call('oms.task.complete-many', { items: [{ taskId: leased.id, leaseToken: leased.leaseToken, output: payloadOf(55_000) }] });
    expect(many.results).toEqual([{ id: leased.id, error: { code: 'PAYLOAD_TOO_LARGE', message: expect.any(String) } }]);

    // Too large for any NATS message: the caller is told PAYLOAD_TOO_LARGE, not "unavailable".
    const unsendable = await oms.failure('oms.task.complete', { taskId: leased.id, leaseToken: leased.leaseToken, output: payloadOf(70_000) });
    expect(unsendable.code).toBe('PAYLOAD_TOO_LARGE');

    expect(await oms.call('oms.task.complete', { taskId: leased.id, leaseToken: leased.leaseToken, output: payloadOf(40_000) })).toEqual({ id: leased.id, status: 'completed' });
    const completed = await oms.waitForEvent('oms.task.completed', (event) => event.data.taskId === leased.id);
    expect(completed.data.output).toEqual(payloadOf(40_000));
  });

  it('shortens a page of large tasks and continues it with its cursor', async () => {
    const p = pool('page');
    const ids = new Set<string>();
    for (let i = 0; i < 3; i += 1) ids.add((await oms.queueTask({ pool: p, payload: payloadOf(25_000) })).id);

    const first = await oms.call('oms.task.list', { pool: p, limit: 10 });
    expect(first.items).toHaveLength(2);
    expect(first.nextCursor).not.toBeNull();
    const second = await oms.call('oms.task.list', { pool: p, limit: 10, cursor: first.nextCursor! });
    expect(second.items).toHaveLength(1);
    expect(second.nextCursor).toBeNull();
    expect(new Set([...first.items, ...second.items].map((task) => task.id))).toEqual(ids);
  });

  it('relays an event that jsonb writes out larger than it was measured', async () => {
    const p = pool('numbers');
    await oms.queueTask({ pool: p });
    const [leased] = (await oms.call('oms.task.lease', { pool: p, worker: 'w1' })).tasks as [LeasedTask];
    // 3,000 numbers of six characters: 21 KB as sent, over 900 KB as Postgres writes jsonb.
    const output = { numbers: Array.from({ length: 3_000 }, () => 1e308) };
    await oms.call('oms.task.complete', { taskId: leased.id, leaseToken: leased.leaseToken, output });
    const completed = await oms.waitForEvent('oms.task.completed', (event) => event.data.taskId === leased.id);
    expect(completed.data.output).toEqual(output);
  });
});
