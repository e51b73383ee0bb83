import { HmsClient } from '@hms/client';
import { benchInfra, benchStack, mapConcurrent, percentile, printTable } from './bench-support';

/** Five steps in sequence, in pools of their own (so samples never queue behind the backlog). */
function fiveStepPlan(id: string, poolPrefix: string) {
  return { id, title: 'Five-step bench plan', steps: ['intake', 'check', 'review', 'decide', 'notify'].map((step) => ({ id: step, pool: `${poolPrefix}_${step}` })) };
}
const THROUGHPUT_PLAN = fiveStepPlan('bench_five_steps', 'bench');
const SAMPLED_PLAN = fiveStepPlan('bench_five_steps_sampled', 'sampled');

/**
 * ACT figures (issue "ACT"): requests accepted per second through the gateway for a 5-step plan,
 * and the time from `POST /v1/requests` returning to the first task being leased by an idle
 * long-polling worker (ACT commit → outbox relay → JetStream → OMS consumer → wake-up → lease).
 */
export async function actBench(options: { requests: number; clients: number; samples: number }): Promise<void> {
  const bench = await benchInfra();
  const { stack, stop } = await benchStack(bench, 'act');
  try {
    const manager = new HmsClient({ baseUrl: stack.gatewayUrl, token: stack.managerToken });
    const worker = new HmsClient({ baseUrl: stack.gatewayUrl, token: await stack.workerToken(['sampled_intake'], 'bench-worker') });
    await manager.plans.register(THROUGHPUT_PLAN);
    await manager.plans.register(SAMPLED_PLAN);

    const started = Date.now();
    await mapConcurrent(Array.from({ length: options.requests }, (_, i) => i), options.clients, (i) => manager.requests.create({ plan: THROUGHPUT_PLAN.id, payload: { i } }));
    const seconds = (Date.now() - started) / 1000;

    // Let the services digest the backlog's events first, so samples measure the idle path.
    await new Promise((resolve) => setTimeout(resolve, 3000));

    const latencies: number[] = [];
    for (let i = 0; i < options.samples + 10; i += 1) {
      const lease = worker.tasks.lease('sampled_intake', { max: 1, waitSeconds: 10 });
      await new Promise((resolve) => setTimeout(resolve, 5));
      const created = await manager.requests.create({ plan: SAMPLED_PLAN.id, payload: { sample: i } });
      const createdAt = Date.now();
      const { tasks } = await lease;
      if (tasks.length !== 1 || tasks[0].requestId !== created.id) throw new Error(`sample ${i}: leased ${tasks.map((t) => t.requestId).join(',') || 'nothing'}`);
      if (i >= 10) latencies.push(Date.now() - createdAt);
      await worker.tasks.complete(tasks[0].id, tasks[0].leaseToken, {});
    }
    printTable(
      'ACT: requests through the gateway (5-step plan)',
      ['what', 'value'],
      [
        [`POST /v1/requests, ${options.clients} concurrent clients, ${options.requests} requests`, `${Math.round(options.requests / seconds)} req/s`],
        [`POST returned → first task leased by an idle long-polling worker, p50 (${options.samples} samples)`, `${percentile(latencies, 0.5)} ms`],
        ['… p99', `${percentile(latencies, 0.99)} ms`],
      ],
    );
  } finally {
    await stop();
    await bench.stop();
  }
}
