import { Client } from 'pg';
import { freePort, ServiceProcess } from '@hms/testing';
import { HmsClient } from '@hms/client';
import { startE2eStack, waitUntil } from './support/e2e-stack';

/**
 * Two OPS replicas split the event stream: a burst of permit work across three desks, with
 * tasks moved between desks, leased ten at a time and completed, or cancelled with their
 * requests. Each pool's queue counts, kept by triggers from whichever replica applied which
 * event, must end equal to OMS's own queues, without a deadlock between the replicas.
 */
describe('Queue counts with two OPS replicas', () => {
  let env: Awaited<ReturnType<typeof startE2eStack>>;
  let secondOps: ServiceProcess | undefined;
  let db: Client;

  beforeAll(async () => {
    env = await startE2eStack('e2e_ops_replicas');
    secondOps = new ServiceProcess('ops', await freePort(), env.serviceEnv('ops'));
    await secondOps.start();
    db = new Client({ connectionString: env.databaseUrl });
    await db.connect();
  });

  afterAll(async () => {
    await db?.end();
    await secondOps?.stop();
    await env?.dispose();
  });

  const deadlocks = async () => Number((await db.query(`SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`)).rows[0].deadlocks);

  it('ends with every pool counted as OMS has it', async () => {
    const { manager, stack } = env;
    const deadlocksBefore = await deadlocks();
    await manager.plans.register({
      id: 'permit_review',
      steps: [
        { id: 'intake', pool: 'permit_intake' },
        { id: 'zoning', pool: 'permit_zoning', after: ['intake'] },
      ],
    });
    const requests = await Promise.all(Array.from({ length: 240 }, (_, i) => manager.requests.create({ plan: 'permit_review', payload: { permit: i } })));
    // Half of the intake queue goes to the overflow desk while it fills, some requests are withdrawn.
    await waitUntil(async () => (await manager.pools.peek('permit_intake', 1)).depth >= 200);
    await manager.pools.reroute('permit_intake', { toPool: 'permit_overflow', reason: 'overflow', limit: 100 });
    for (const request of requests.slice(0, 30)) await manager.requests.cancel(request.id, 'withdrawn');

    const clerks = new HmsClient({ baseUrl: stack.gatewayUrl, token: stack.serviceToken });
    const work = async (pool: string, worker: string, rounds: number) => {
      for (let round = 0; round < rounds; round++) {
        const { tasks } = await clerks.tasks.lease(pool, { worker, max: 10 });
        if (tasks.length === 0) return;
        // Every other batch is left leased, so leased counts are exercised too.
        if (round % 2 === 1) continue;
        await Promise.all(tasks.map((task) => clerks.tasks.complete(task.id, task.leaseToken, { ok: true })));
      }
    };
    await Promise.all([work('permit_intake', 'ana', 8), work('permit_overflow', 'ben', 8), work('permit_intake', 'cy', 6)]);
    // Two rounds only: the desk keeps a queue (and one leased batch).
    await work('permit_zoning', 'dee', 2);

    const pools = ['permit_intake', 'permit_overflow', 'permit_zoning'];
    const omsTruth = async () =>
      Object.fromEntries(
        await Promise.all(
          pools.map(async (pool) => {
            let queued = 0;
            let leased = 0;
            for await (const task of manager.tasks.listAll({ pool, limit: 500 })) {
              if (task.status === 'queued') queued += 1;
              if (task.status === 'leased') leased += 1;
            }
            return [pool, { depth: queued, leased }] as const;
          }),
        ),
      );
    // Zoning tasks keep arriving while ACT turns the intake completions into steps: compare both
    // sides afresh until they agree (or time runs out, and the last pair is shown).
    const shown = async () => {
      const { pools: snapshots } = await manager.metrics.pools();
      return Object.fromEntries(
        pools.map((pool) => {
          const snapshot = snapshots.find((s) => s.pool === pool);
          return [pool, { depth: snapshot?.depth ?? 0, leased: snapshot?.leased ?? 0 }];
        }),
      );
    };
    let last: { expected: Record<string, unknown>; seen: Record<string, unknown> } | undefined;
    const agreed = await waitUntil(async () => {
      last = { expected: await omsTruth(), seen: await shown() };
      return JSON.stringify(last.expected) === JSON.stringify(last.seen) ? last : undefined;
    }, 30_000).catch(() => last);
    expect(agreed!.seen).toEqual(agreed!.expected);
    const expected = agreed!.expected as Record<string, { depth: number; leased: number }>;
    expect(Object.values(expected).some((pool) => pool.leased > 0)).toBe(true);
    expect(Object.values(expected).some((pool) => pool.depth > 0)).toBe(true);

    // The kept counts are a recount of OPS's open tasks, and each replica applied some of the events.
    const { rows } = await db.query(
      `SELECT c."pool" FROM "ops"."pool_counts" AS c
       FULL JOIN (SELECT "pool", count(*) FILTER (WHERE "status" = 'queued') AS q, count(*) FILTER (WHERE "status" = 'leased') AS l FROM "ops"."pool_tasks" GROUP BY "pool") AS t USING ("pool")
       WHERE coalesce(c."queued", 0) <> coalesce(t.q, 0) OR coalesce(c."leased", 0) <> coalesce(t.l, 0)`,
    );
    expect(rows).toEqual([]);
    for (const ops of [stack.services.ops, secondOps!]) {
      const text = await (await fetch(`${ops.url}/metrics`)).text();
      expect(Number(/^hms_task_completed_total\{[^}]*pool="permit_intake"[^}]*\} (\d+)$/m.exec(text)?.[1] ?? 0) + Number(/^hms_task_completed_total\{[^}]*pool="permit_overflow"[^}]*\} (\d+)$/m.exec(text)?.[1] ?? 0)).toBeGreaterThan(0);
    }
    expect(await deadlocks()).toBe(deadlocksBefore);
  });
});
