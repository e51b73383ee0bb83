import { randomUUID } from 'node:crypto';
import type { RequestStatus } from '@hms/contracts';
import { eventually, startAct, type ActHarness } from '../testing/act-harness';
import { RequestSlaJob, SLA_ACTOR } from './request-sla.job';

// Booting the service and waiting for consumers takes seconds on a busy CI machine.
jest.setTimeout(30_000);

const SWEEP_MS = 200;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('ACT request SLA breach', () => {
  let act: ActHarness;

  beforeAll(async () => {
    act = await startAct('act_sla', { ACT_SLA_SWEEP_MS: String(SWEEP_MS) });
    await act.call('act.plan.register', { definition: { id: 'sla_plan', steps: [{ id: 'a', pool: 'q' }] } });
  });

  afterAll(async () => {
    await act?.close();
  });

  const create = async (slaMinutes: number) => (await act.call('act.request.create', { plan: 'sla_plan', slaMinutes })).request;

  const waitForStatus = (id: string, status: RequestStatus) =>
    eventually(async () => {
      const request = await act.call('act.request.get', { id });
      if (request.status !== status) throw new Error(`request is ${request.status}, not ${status}`);
      return request;
    });

  /** Moves a request's SLA into the past, as if time had passed. */
  const overdue = (id: string) => act.sql(`UPDATE "act"."requests" SET "sla_due_at" = now() - interval '1 minute' WHERE "id" = $1`, [id]);

  it('escalates a running request past its SLA once, with one act.request.sla-breached', async () => {
    const breached = act.collect('act.request.sla-breached');
    const request = await create(0.01); // 0.6 s
    expect(request.slaDueAt).not.toBeNull();

    const event = await breached.waitFor((e) => e.requestId === request.id);
    expect(event).toMatchObject({ source: 'act', actor: SLA_ACTOR, requestId: request.id, data: { plan: 'sla_plan', slaDueAt: request.slaDueAt } });

    // A few more ticks change nothing.
    await sleep(5 * SWEEP_MS);
    expect(breached.forRequest(request.id)).toHaveLength(1);
    const after = await act.call('act.request.get', { id: request.id });
    expect(after.status).toBe('running');
    expect(after.escalations).toEqual([{ at: expect.any(String), reason: 'sla-breached' }]);
    // The sweep's instant: in the escalation and the column alike, at or after the due time (the event's `at` is taken a moment later).
    const [row] = await act.sql<{ sla_breached_at: Date }>(`SELECT "sla_breached_at" FROM "act"."requests" WHERE "id" = $1`, [request.id]);
    expect(row.sla_breached_at.toISOString()).toBe(after.escalations[0].at);
    expect(row.sla_breached_at.getTime()).toBeGreaterThanOrEqual(new Date(request.slaDueAt!).getTime());
    expect(row.sla_breached_at.getTime()).toBeLessThanOrEqual(new Date(event.at).getTime());

    // The ledger consumes every event of a request, this one included.
    await eventually(async () => {
      const history = await act.call('act.request.history', { id: request.id, limit: 500 });
      if (!history.items.some((entry) => entry.type === 'act.request.sla-breached')) throw new Error('not in the ledger yet');
    });
  });

  it('does not breach completed or cancelled requests', async () => {
    const breached = act.collect('act.request.sla-breached');
    const completed = await create(60);
    const taskId = randomUUID();
    await act.publish('oms.task.queued', completed.id, { taskId, stepId: 'a', pool: 'q', priority: 0, tags: [], attempt: 1, slaDueAt: null }, { actor: 'system:oms' });
    await act.publish('oms.task.completed', completed.id, { taskId, stepId: 'a', pool: 'q', worker: 'w-1', leaseId: randomUUID(), attempt: 1, output: {} });
    await waitForStatus(completed.id, 'completed');
    const cancelled = await create(60);
    await act.call('act.request.cancel', { id: cancelled.id });
    const running = await create(60);
    for (const request of [completed, cancelled, running]) await overdue(request.id);

    // The running one shows the sweep has run since; give it a few more ticks all the same.
    await breached.waitFor((e) => e.requestId === running.id);
    await sleep(3 * SWEEP_MS);
    expect(breached.forRequest(completed.id)).toEqual([]);
    expect(breached.forRequest(cancelled.id)).toEqual([]);
    expect(breached.forRequest(running.id)).toHaveLength(1);
    expect((await act.call('act.request.get', { id: completed.id })).escalations).toEqual([]);
    expect((await act.call('act.request.get', { id: cancelled.id })).escalations).toEqual([]);
  });

  it('breaches each request once when several sweeps run at the same time (as replicas do)', async () => {
    const breached = act.collect('act.request.sla-breached');
    const requests = await Promise.all(Array.from({ length: 30 }, () => create(60)));
    const ids = requests.map((r) => r.id);
    // Overdue all at once, then race sweeps against each other and the background one.
    await act.sql(`UPDATE "act"."requests" SET "sla_due_at" = now() - interval '1 minute' WHERE "id" = ANY($1::uuid[])`, [ids]);
    const job = act.app.get(RequestSlaJob);
    await Promise.all(Array.from({ length: 4 }, () => job.tick()));

    await eventually(() => {
      for (const id of ids) if (breached.forRequest(id).length === 0) throw new Error(`no breach of ${id} yet`);
    });
    await sleep(3 * SWEEP_MS);
    for (const id of ids) expect(breached.forRequest(id)).toHaveLength(1);
    const rows = await act.sql<{ n: number }>(
      `SELECT jsonb_array_length("escalations")::int AS "n" FROM "act"."requests" WHERE "id" = ANY($1::uuid[])`,
      [ids],
    );
    expect(rows.map((r) => r.n)).toEqual(ids.map(() => 1));
  });
});
