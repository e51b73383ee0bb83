import { HmsClient, type WorkItem } from '@hms/client';
import { examplePlan, ledgerThrough, startE2eStack, workPool } from './support/e2e-stack';

/**
 * DESIGN's invariant under process crashes: SIGKILL a service in the middle of the voucher flow,
 * start it again, and every request still completes, no task is completed twice, and every
 * ledger verifies.
 */
describe('Service crash during the voucher flow', () => {
  let env: Awaited<ReturnType<typeof startE2eStack>>;

  beforeAll(async () => {
    env = await startE2eStack('e2e_crash');
  });

  afterAll(async () => {
    await env?.dispose();
  });

  it('loses nothing and completes nothing twice when OMS and then ACT are killed with SIGKILL', async () => {
    const { stack, manager } = env;
    await manager.plans.register(examplePlan('disaster-voucher.plan.yaml'));
    // A lease granted at the instant OMS dies never reaches its worker; it comes back when the
    // lease expires, so the pools here use short leases (the workers finish in milliseconds).
    for (const pool of ['hud_case_workers', 'fema_inspectors', 'payments']) {
      await manager.pools.put(pool, { kind: pool === 'payments' ? 'bot' : 'human', leaseSeconds: 3 });
    }
    const token = await stack.workerToken(['hud_case_workers', 'fema_inspectors', 'payments'], 'crew@gov');
    const crew = new HmsClient({ baseUrl: stack.gatewayUrl, token });
    // Workers are slowed down a little so that work is in flight when the kill lands.
    const slow = (output: Record<string, unknown>) => (task: WorkItem) => {
      const until = Date.now() + 20;
      while (Date.now() < until);
      return { ...output, task: task.id };
    };
    let done = false;
    const workers = [
      workPool({ client: crew, pool: 'hud_case_workers', worker: 'crew@gov', tags: ['income_check'], output: slow({ eligible: true }), until: () => done }),
      workPool({ client: crew, pool: 'fema_inspectors', worker: 'crew@gov', output: slow({ ok: true }), until: () => done }),
      workPool({ client: crew, pool: 'payments', worker: 'crew@gov', output: slow({ paid: true }), until: () => done }),
    ];
    const ids: string[] = [];
    const file = async (n: number) => {
      for (let i = 0; i < n; i += 1) ids.push((await manager.requests.create({ plan: 'disaster_voucher', payload: { n: ids.length } })).id);
    };

    try {
      await file(6);
      await stack.services.oms.kill();
      // ACT keeps accepting requests while OMS is down; their steps wait in JetStream.
      await file(3);
      await stack.services.oms.start();
      await file(3);
      await stack.services.act.kill();
      await new Promise((resolve) => setTimeout(resolve, 500));
      await stack.services.act.start();
      await file(3);
      const finished = await Promise.all(ids.map((id) => manager.requests.waitFor(id, { timeoutMs: 120_000, intervalMs: 250 })));
      expect(finished.map((r) => r.status)).toEqual(ids.map(() => 'completed'));
    } finally {
      done = true;
      await Promise.all(workers);
    }

    const completedPerTask = new Map<string, number>();
    for (const id of ids) {
      const history = await ledgerThrough(manager, id, 'act.request.completed');
      const completions = history.filter((e) => e.type === 'oms.task.completed');
      expect(completions).toHaveLength(3);
      for (const entry of completions) {
        const taskId = String(entry.data.taskId);
        completedPerTask.set(taskId, (completedPerTask.get(taskId) ?? 0) + 1);
      }
      expect(history.filter((e) => e.type === 'act.request.completed')).toHaveLength(1);
      await expect(manager.requests.verify(id)).resolves.toMatchObject({ valid: true });
    }
    expect(completedPerTask.size).toBe(ids.length * 3);
    expect([...completedPerTask.values()].every((count) => count === 1)).toBe(true);
  });
});
