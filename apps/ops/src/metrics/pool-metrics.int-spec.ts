import { randomUUID } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { type EventDataMap, type EventType, type HmsEvent, type PoolMetrics } from '@hms/contracts';
import { bootstrapService, loadConfig, RpcClient } from '@hms/platform';
import { freshTestEnvironment, TestNatsParts } from '@hms/testing';
import { Client } from 'pg';
import { createOpsModule } from '../ops.module';
import { OpsConfig } from '../ops.config';
import { OPS_CONSUMER } from './pool-metrics.service';
import { PoolTaskTombstones, TOMBSTONE_SECONDS } from './pool-task-tombstones';

jest.setTimeout(60_000);

type Env = Awaited<ReturnType<typeof freshTestEnvironment>>;

/**
 * OPS in-process on its own database and subject prefix, fed OMS events through real JetStream.
 * Events published before OPS starts reach it together, as a few large batches; events published
 * afterwards arrive one or a few at a time — both paths are checked against the same snapshot.
 */
describe('OPS pool metrics from OMS events', () => {
  let env: Env;
  /** The gateway (calls) and OMS (its events), each as its NATS user. */
  let parts: TestNatsParts;
  let rpc: RpcClient;
  let ops: INestApplication | undefined;
  // Ten minutes ago, on the real clock: the snapshot counts outcomes of the last
  // OPS_METRICS_WINDOW_MINUTES (60) before now, so a fixed date would fall out of it.
  const base = Math.floor(Date.now() / 1000) * 1000 - 10 * 60_000;
  /** Event times are explicit: `t(s)` is `s` seconds after the start of the scenario. */
  const t = (seconds: number) => new Date(base + seconds * 1000).toISOString();

  beforeAll(async () => {
    env = await freshTestEnvironment('ops_metrics');
    parts = new TestNatsParts(env.natsUrl, env.subjectPrefix, 'ops-test');
    rpc = new RpcClient(await parts.as('gateway'));
    // OPS is started later, on a backlog: the stream must exist before it does.
    await (await parts.as('oms')).ensureEventStream();
  });

  afterAll(async () => {
    await ops?.close();
    await parts?.close();
    await env?.dispose();
  });

  async function publish<T extends EventType>(type: T, at: string, data: EventDataMap[T]): Promise<HmsEvent<T>> {
    const event: HmsEvent<T> = { id: randomUUID(), type, at, actor: 'system:oms', requestId: randomUUID(), source: 'oms', data };
    await deliver(event);
    return event;
  }

  /** Puts the event on the stream; a new message id each time, so JetStream keeps repeats (as after a relay crash). */
  async function deliver(event: HmsEvent<EventType>): Promise<void> {
    await parts.publish(event, { msgID: randomUUID() });
  }

  async function startOps(): Promise<void> {
    const config = loadConfig(OpsConfig, { DATABASE_URL: env.databaseUrl, NATS_URL: env.natsUrl, HMS_SUBJECT_PREFIX: env.subjectPrefix, LOG_LEVEL: 'warn', PORT: '0', ...parts.serviceEnv('ops') });
    ops = await bootstrapService(createOpsModule(config), { port: 0 });
  }

  async function poolSnapshot(pool: string): Promise<PoolMetrics | undefined> {
    return (await rpc.call('ops.metrics.pools', { pool }, { actor: { id: 'test', roles: ['manager'] } })).pools[0];
  }

  /** Waits until the pool's snapshot matches, or fails with the last one seen. */
  async function expectPool(pool: string, expected: Partial<PoolMetrics>): Promise<void> {
    const deadline = Date.now() + 10_000;
    let last: PoolMetrics | undefined;
    while (Date.now() < deadline) {
      last = await poolSnapshot(pool);
      if (last && Object.entries(expected).every(([key, value]) => last![key as keyof PoolMetrics] === value)) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(last).toMatchObject(expected);
  }

  const task = (pool: string) => ({ taskId: randomUUID(), stepId: 'work', pool });
  const queued = (pool: string, taskId: string, at: string) =>
    publish('oms.task.queued', at, { taskId, stepId: 'work', pool, priority: 0, tags: [], attempt: 0, slaDueAt: null });
  const leased = (pool: string, taskId: string, at: string, worker = 'w1') =>
    publish('oms.task.leased', at, { taskId, stepId: 'work', pool, worker, leaseId: randomUUID(), attempt: 1, leaseExpiresAt: t(600), waitedMs: 2000 });
  const completed = (pool: string, taskId: string, at: string) =>
    publish('oms.task.completed', at, { taskId, stepId: 'work', pool, worker: 'w1', leaseId: randomUUID(), attempt: 1, output: {} });

  it('folds a backlog of events into the same queue state as events one at a time', async () => {
    const pool = `metrics-${randomUUID().slice(0, 8)}`;
    const other = `metrics-other-${randomUUID().slice(0, 8)}`;
    const [a, b, c, d, e, f, g] = Array.from({ length: 7 }, () => task(pool));
    // a: queued, leased, completed -> gone, counted completed.
    await queued(pool, a!.taskId, t(0));
    await leased(pool, a!.taskId, t(1));
    await completed(pool, a!.taskId, t(2));
    // b: queued then leased -> leased.
    await queued(pool, b!.taskId, t(0));
    await leased(pool, b!.taskId, t(3));
    // c: queued at 0 -> oldest waiting.
    await queued(pool, c!.taskId, t(0));
    // d: leased, failed with a retry -> queued again (at its retry time), counted failed.
    await queued(pool, d!.taskId, t(1));
    await leased(pool, d!.taskId, t(2));
    await publish('oms.task.failed', t(3), { ...d!, worker: 'w1', leaseId: randomUUID(), attempt: 1, error: { message: 'x' }, retryAt: t(13) });
    // e: dead -> gone, counted dead.
    await queued(pool, e!.taskId, t(1));
    await publish('oms.task.dead', t(4), { ...e!, attempts: 3, error: null });
    // f: rerouted to another pool -> queued there.
    await queued(pool, f!.taskId, t(1));
    await publish('oms.task.rerouted', t(5), { taskId: f!.taskId, stepId: 'work', fromPool: pool, toPool: other, reason: 'overflow' });
    // g: a newer lease, then an older queued event delivered late -> still leased.
    await leased(pool, g!.taskId, t(6), 'w2');
    await queued(pool, g!.taskId, t(0));
    await publish('oms.worker.online', t(0), { worker: 'w1', pool });
    await publish('oms.worker.online', t(0), { worker: 'w2', pool });
    await publish('oms.worker.offline', t(7), { worker: 'w2', pool, lastSeenAt: t(6) });

    // Started after the events: it reads them as a backlog, in batches.
    await startOps();
    const expected = { depth: 2, leased: 2, workersOnline: 1, successRate: 0.5 };
    await expectPool(pool, expected);
    await expectPool(other, { depth: 1, leased: 0 });

    // The same story for fresh tasks, now that OPS is caught up, event by event.
    const live = `metrics-live-${randomUUID().slice(0, 8)}`;
    const [la, lb, lc] = Array.from({ length: 3 }, () => task(live));
    for (const step of [
      () => queued(live, la!.taskId, t(0)),
      () => leased(live, la!.taskId, t(1)),
      () => completed(live, la!.taskId, t(2)),
      () => queued(live, lb!.taskId, t(0)),
      () => leased(live, lb!.taskId, t(3)),
      () => queued(live, lc!.taskId, t(0)),
      () => leased(live, lc!.taskId, t(6), 'w2'),
      () => queued(live, lc!.taskId, t(0)),
    ]) {
      await step();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await expectPool(live, { depth: 0, leased: 2, successRate: 1 });
  });

  it('counts only the outcomes of the window, and lists a pool with older ones only while something is open there', async () => {
    if (!ops) await startOps();
    const [past, mixed] = [`metrics-past-${randomUUID().slice(0, 8)}`, `metrics-mixed-${randomUUID().slice(0, 8)}`];
    // Two hours ago: outside OPS_METRICS_WINDOW_MINUTES (60).
    const longAgo = new Date(base - 110 * 60_000).toISOString();
    await publish('oms.task.completed', longAgo, { ...task(past), worker: 'w1', leaseId: randomUUID(), attempt: 1, output: {} });
    await publish('oms.task.dead', longAgo, { ...task(past), attempts: 3, error: null });
    await publish('oms.task.dead', longAgo, { ...task(mixed), attempts: 3, error: null });
    await completed(mixed, randomUUID(), t(5));

    // The old death in the window would read 0.5.
    await expectPool(mixed, { successRate: 1, throughputPerMinute: 0 });
    const db = new Client({ connectionString: env.databaseUrl });
    await db.connect();
    try {
      const { rows } = await db.query(`SELECT "pool", count(*)::int AS n FROM "ops"."task_outcomes" WHERE "pool" = ANY($1) GROUP BY "pool" ORDER BY "pool"`, [[mixed, past]]);
      expect(rows).toEqual([{ pool: mixed, n: 2 }, { pool: past, n: 2 }]);
    } finally {
      await db.end();
    }
    expect(await poolSnapshot(past)).toBeUndefined();
    const listed = (await rpc.call('ops.metrics.pools', {}, { actor: { id: 'test', roles: ['manager'] } })).pools.map((p) => p.pool);
    expect(listed).toContain(mixed);
    expect(listed).not.toContain(past);

    // A task queued there lists it again, with nothing in its window.
    await queued(past, randomUUID(), t(6));
    await expectPool(past, { depth: 1, successRate: null, waitP50Seconds: null });
  });

  it('counts an outcome once, however often its event arrives', async () => {
    if (!ops) await startOps();
    const pool = `metrics-once-${randomUUID().slice(0, 8)}`;
    const [x, y, z, w] = Array.from({ length: 4 }, () => task(pool));
    const doneX = await publish('oms.task.completed', t(2), { ...x!, worker: 'w1', leaseId: randomUUID(), attempt: 1, output: {} });
    await publish('oms.task.dead', t(3), { ...y!, attempts: 3, error: null });
    await publish('oms.task.dead', t(3), { ...w!, attempts: 3, error: null });
    await deliver(doneX);
    // z's completion was claimed the old way, in processed_events, before outcome rows carried
    // their event (an upgrade with the event in flight): it arrives again and is not counted.
    const doneZ = { id: randomUUID(), type: 'oms.task.completed', at: t(2), actor: 'system:oms', requestId: randomUUID(), source: 'oms', data: { ...z!, worker: 'w1', leaseId: randomUUID(), attempt: 1, output: {} } } as const;
    const db = new Client({ connectionString: env.databaseUrl });
    await db.connect();
    try {
      await db.query(`INSERT INTO "ops"."processed_events" ("consumer", "event_id") VALUES ($1, $2)`, [OPS_CONSUMER, doneZ.id]);
    } finally {
      await db.end();
    }
    await deliver(doneZ);
    await deliver(doneX);

    // One completion (x) against two deaths; x counted twice or z counted would read 0.5.
    await expectPool(pool, { successRate: 1 / 3 });
    // Once everything has been handled, it stays so.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await poolSnapshot(pool))?.successRate).toBe(1 / 3);
  });

  it('does not reopen a task whose end arrived before its earlier events (two replicas, two batches)', async () => {
    if (!ops) await startOps();
    const pool = `metrics-late-${randomUUID().slice(0, 8)}`;
    const [x, y, z] = Array.from({ length: 3 }, () => task(pool));
    // x ended before its queueing and lease were applied; y was cancelled in the same millisecond as its lease.
    await completed(pool, x!.taskId, t(5));
    await publish('oms.task.cancelled', t(4), { ...y!, reason: 'withdrawn', leaseId: null });
    await queued(pool, z!.taskId, t(0));
    await expectPool(pool, { depth: 1, leased: 0 });
    await queued(pool, x!.taskId, t(1));
    await leased(pool, x!.taskId, t(3));
    await leased(pool, y!.taskId, t(4));
    await leased(pool, z!.taskId, t(2));
    await expectPool(pool, { depth: 0, leased: 1 });
    // Every event has been applied: the late ones still changed nothing.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await poolSnapshot(pool)).toMatchObject({ depth: 0, leased: 1 });
  });

  it('forgets an ended task after TOMBSTONE_SECONDS, not before', async () => {
    if (!ops) await startOps();
    const db = new Client({ connectionString: env.databaseUrl });
    await db.connect();
    try {
      const [old, recent] = [randomUUID(), randomUUID()];
      const ago = (seconds: number) => new Date(Date.now() - seconds * 1000);
      for (const [id, at] of [[old, ago(TOMBSTONE_SECONDS + 60)], [recent, ago(TOMBSTONE_SECONDS - 60)]] as const) {
        await db.query(`INSERT INTO "ops"."pool_tasks" ("task_id", "pool", "status", "queued_at", "last_event_at") VALUES ($1, 'metrics-tombstones', 'closed', $2, $2)`, [id, at]);
      }
      expect(await ops!.get(PoolTaskTombstones).sweep()).toBeGreaterThanOrEqual(1);
      const { rows } = await db.query(`SELECT "task_id" FROM "ops"."pool_tasks" WHERE "task_id" = ANY($1::uuid[])`, [[old, recent]]);
      expect(rows.map((row) => row.task_id)).toEqual([recent]);
    } finally {
      await db.end();
    }
  });

  it('lends its hms_* series, not its process metrics, to the gateway over ops.metrics.prometheus', async () => {
    if (!ops) await startOps();
    const pool = `metrics-prom-${randomUUID().slice(0, 8)}`;
    await queued(pool, task(pool).taskId, t(0));
    await expectPool(pool, { depth: 1 });
    const actor = { actor: { id: 'system:api-gateway', roles: ['service' as const] } };
    const { text } = await rpc.call('ops.metrics.prometheus', {}, actor);
    expect(text).toMatch(new RegExp(`^hms_tasks_queued\\{pool="${pool}",service="ops"\\} 1$`, 'm'));
    expect(text).toMatch(new RegExp(`^hms_task_queue_depth\\{pool="${pool}",service="ops"\\} 1$`, 'm'));
    expect(text).toMatch(/^# TYPE hms_task_wait_seconds histogram$/m);
    expect(text).not.toMatch(/^(process|nodejs)_/m);
    await expect(rpc.call('ops.metrics.prometheus', { pool } as never, actor)).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it("keeps every pool's counts equal to its open tasks, through all the stories above", async () => {
    if (!ops) await startOps();
    const db = new Client({ connectionString: env.databaseUrl });
    await db.connect();
    try {
      // One statement, one snapshot: the triggers change the counts in the transactions that change the tasks.
      const { rows } = await db.query(
        `SELECT coalesce(c."pool", t."pool") AS "pool", coalesce(c."queued", 0)::int AS "queued", coalesce(c."leased", 0)::int AS "leased",
                coalesce(t."queued", 0)::int AS "openQueued", coalesce(t."leased", 0)::int AS "openLeased"
         FROM "ops"."pool_counts" AS c
         FULL JOIN (SELECT "pool", count(*) FILTER (WHERE "status" = 'queued') AS "queued", count(*) FILTER (WHERE "status" = 'leased') AS "leased"
                    FROM "ops"."pool_tasks" GROUP BY "pool") AS t USING ("pool")
         ORDER BY 1`,
      );
      expect(rows.filter((row) => row.openQueued + row.openLeased > 0).length).toBeGreaterThanOrEqual(3);
      for (const row of rows) expect({ pool: row.pool, queued: row.queued, leased: row.leased }).toEqual({ pool: row.pool, queued: row.openQueued, leased: row.openLeased });
    } finally {
      await db.end();
    }
  });
});
