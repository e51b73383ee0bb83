import { HmsClient, type WorkItem } from '@hms/client';
import { benchInfra, benchStack, formatNumber, mapConcurrent, printTable } from './bench-support';

const PLAN = { id: 'bench_single', title: 'One-step bench plan', steps: [{ id: 'work', pool: 'bench_pool' }] };

/**
 * The first end-to-end figure: requests accepted and tasks completed per second through the REST
 * gateway, with the four services as processes, ledger and metrics consumers running.
 */
export async function gatewayBench(options: { requests: number; workers: number }): Promise<void> {
  const bench = await benchInfra();
  const { stack, stop } = await benchStack(bench, 'gateway');
  try {
    const manager = new HmsClient({ baseUrl: stack.gatewayUrl, token: stack.managerToken });
    // A worker token is its own worker: one token per bench worker.
    const workers = await Promise.all(
      Array.from({ length: options.workers }, async (_, w) => new HmsClient({ baseUrl: stack.gatewayUrl, token: await stack.workerToken(['bench_pool'], `bench-${w}`) })),
    );
    await manager.plans.register(PLAN);
    const rows: Array<Array<string | number>> = [];

    let started = Date.now();
    const ids = await mapConcurrent(Array.from({ length: options.requests }, (_, i) => i), 16, async (i) => (await manager.requests.create({ plan: PLAN.id, payload: { i } })).id);
    const createSeconds = (Date.now() - started) / 1000;
    rows.push(['POST /v1/requests (16 concurrent clients)', options.requests, formatNumber(createSeconds), options.requests / createSeconds]);

    for (const max of [1, 10]) {
      if (max === 10) {
        await mapConcurrent(Array.from({ length: options.requests }, (_, i) => i), 16, async (i) => manager.requests.create({ plan: PLAN.id, payload: { i, round: 2 } }));
      }
      // Wait until OMS has queued them all, so the figure is leasing, not queueing.
      for (;;) {
        const peek = await manager.pools.peek('bench_pool', 1);
        if (peek.depth >= options.requests) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      let completed = 0;
      started = Date.now();
      await Promise.all(
        Array.from({ length: options.workers }, async (_, w) => {
          while (completed < options.requests) {
            const worker = workers[w]!;
            const { tasks } = await worker.tasks.lease('bench_pool', { max, waitSeconds: 1 });
            if (tasks.length === 0) continue;
            await Promise.all(tasks.map((task) => worker.tasks.complete(task.id, task.leaseToken, { ok: true })));
            completed += tasks.length;
          }
        }),
      );
      const seconds = (Date.now() - started) / 1000;
      rows.push([`lease+complete through the gateway, ${options.workers} workers, max ${max}`, completed, formatNumber(seconds), completed / seconds]);
    }
    started = Date.now();
    for (;;) {
      const page = await manager.requests.list({ status: 'running', limit: 1 });
      if (page.items.length === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    void ids;
    rows.push(['drain: last request completed after the last task', '-', formatNumber((Date.now() - started) / 1000), '-']);
    printTable('Through the gateway (four service processes, real Postgres and NATS)', ['what', 'count', 'seconds', 'per second'], rows);
  } finally {
    await stop();
    await bench.stop();
  }
}

export type { WorkItem };
