import { randomUUID } from 'node:crypto';
import { OmsHarness } from '../testing/oms-harness';

jest.setTimeout(60_000);

describe('OMS task SLA watch', () => {
  let oms: OmsHarness;
  const pool = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;
  const breachesOf = (taskId: string) => oms.events.filter((e) => e.type === 'oms.task.sla-breached' && (e.data as { taskId: string }).taskId === taskId);

  beforeAll(async () => {
    oms = await OmsHarness.start('oms_sla_watch', { OMS_SLA_SWEEP_MS: '100' });
    await oms.startReplica(); // two replicas sweep the same tasks: still one announcement each
  });

  afterAll(async () => {
    await oms?.close();
  });

  it('announces a queued task past its SLA once, and a leased one with its holder', async () => {
    const p = pool('breach');
    const queued = await oms.queueTask({ pool: p, slaMinutes: 0.01 });
    const leased = await oms.queueTask({ pool: p, slaMinutes: 0.01, priority: 1 });
    const { tasks } = await oms.call('oms.task.lease', { pool: p, worker: 'slow-clerk', max: 1 });
    expect(tasks.map((t) => t.id)).toEqual([leased.id]);

    const forQueued = await oms.waitForEvent('oms.task.sla-breached', (e) => e.data.taskId === queued.id);
    expect(forQueued.requestId).toBe(queued.requestId);
    expect(forQueued.data).toMatchObject({ stepId: queued.stepId, pool: p, slaDueAt: queued.slaDueAt, status: 'queued', worker: null });
    const forLeased = await oms.waitForEvent('oms.task.sla-breached', (e) => e.data.taskId === leased.id);
    expect(forLeased.data).toMatchObject({ status: 'leased', worker: 'slow-clerk' });

    await new Promise((resolve) => setTimeout(resolve, 1_000)); // ten more sweeps on each replica
    expect(breachesOf(queued.id)).toHaveLength(1);
    expect(breachesOf(leased.id)).toHaveLength(1);
    // The breach is a flag, not a state change: the task still waits for its worker.
    expect(await oms.call('oms.task.get', { id: queued.id })).toMatchObject({ status: 'queued' });
  });

  it('says nothing of tasks finished before their deadline or without one', async () => {
    const p = pool('in-time');
    const finished = await oms.queueTask({ pool: p, slaMinutes: 0.02 });
    const untimed = await oms.queueTask({ pool: p });
    const { tasks } = await oms.call('oms.task.lease', { pool: p, worker: 'quick', max: 1 });
    expect(tasks.map((t) => t.id)).toEqual([finished.id]);
    await oms.call('oms.task.complete', { taskId: finished.id, leaseToken: tasks[0]!.leaseToken, output: {} });

    const witness = await oms.queueTask({ pool: p, slaMinutes: 0.02 });
    await oms.waitForEvent('oms.task.sla-breached', (e) => e.data.taskId === witness.id);
    expect(breachesOf(finished.id)).toHaveLength(0);
    expect(breachesOf(untimed.id)).toHaveLength(0);
  });

  it('finds due tasks through the watch index, not a table scan', async () => {
    // With a handful of rows the planner may rightly prefer a scan; what matters is that the
    // watch's predicate matches the partial index, which the plan shows once scans are off.
    await oms.sql('SET enable_seqscan = off');
    const rows = await oms.sql<{ 'QUERY PLAN': string }>(
      `EXPLAIN SELECT id FROM oms.tasks
       WHERE status IN ('queued', 'leased') AND sla_breached_at IS NULL AND sla_due_at IS NOT NULL AND sla_due_at <= now()
       ORDER BY sla_due_at LIMIT 500`,
    );
    await oms.sql('RESET enable_seqscan');
    expect(rows.map((row) => row['QUERY PLAN']).join('\n')).toMatch(/Index Scan using tasks_sla_watch_idx/);
  });
});
