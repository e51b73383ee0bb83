import { randomUUID } from 'node:crypto';
import type { HmsEvent } from '@hms/contracts';
import { TaskSignals } from '../leases/task-signals';
import { recordStatements } from '@hms/testing';
import { eventually, OmsHarness, stepReadyEvent } from '../testing/oms-harness';

jest.setTimeout(60_000);

/**
 * A batch of `act.step.ready` reaching OMS's consumer together is queued set-based
 * (TasksService.queueFromSteps through the consumer's handleMany): one statement for the run,
 * with the same effect as one event at a time. The events travel as ACT's relay sends a run of
 * one type, one JetStream message whose body is their JSON array, so the consumer gets them in
 * one delivery and one batch. A batch whose pools all exist is queued by one statement that
 * also claims its events (the consumer's handleAtOnce), with no transaction; a batch naming a
 * new pool, or one whose statement fails, takes the consumer's transaction.
 */
describe('queueing a batch of ready steps', () => {
  let oms: OmsHarness;

  beforeAll(async () => {
    // Two deliveries, 20 ms apart, before a failing event is parked. A long poll looks again only
    // after a minute: within its wait, only a wake-up brings it a task.
    oms = await OmsHarness.start('oms_queue_steps', {
      HMS_EVENT_MAX_DELIVERIES: '2',
      HMS_EVENT_RETRY_BASE_MS: '20',
      OMS_LONG_POLL_RECHECK_MS: '60000',
      OMS_WORKER_LIVENESS_SECONDS: '600',
    });
  });

  afterAll(async () => {
    await oms?.close();
  });

  const newPool = () => `batch-${randomUUID().slice(0, 8)}`;

  interface TaskRow {
    id: string;
    request_id: string;
    step_id: string;
    pool: string;
    title: string;
    tags: string[];
    priority: number;
    status: string;
    max_attempts: number;
    retry: unknown;
    payload: unknown;
    input: unknown;
    payload_bytes: number;
    lease_seconds: number;
    sla_ms: number | null;
  }

  const tasksOf = (requestIds: string[]) =>
    oms.sql<TaskRow>(
      `SELECT id, request_id, step_id, pool, title, tags, priority, status, max_attempts, retry, payload, input, payload_bytes, lease_seconds,
              (extract(epoch FROM sla_due_at - queued_at) * 1000)::int AS sla_ms
       FROM oms.tasks WHERE request_id = ANY($1::text[]) ORDER BY request_id, step_id`,
      [requestIds],
    );

  const queuedEventsOf = (requestIds: string[]) => oms.events.filter((event): event is HmsEvent<'oms.task.queued'> => event.type === 'oms.task.queued' && requestIds.includes(event.requestId!));

  it('queues one task per step, with duplicates and pools of its own and new, and one queued event per task', async () => {
    const configured = newPool();
    const created = newPool();
    await oms.call('oms.pool.upsert', { pool: configured, kind: 'bot', leaseSeconds: 40, maxAttempts: 7, slaMinutes: 30 });
    const a = stepReadyEvent(configured, { stepId: 'a', tags: ['ocr', 'ocr', 'de'], priority: 3, payload: { doc: 1 }, input: { extracted: 'P-1' } });
    // The step's own settings win over the pool's.
    const b = stepReadyEvent(configured, { stepId: 'b', leaseSeconds: 5, slaMinutes: 2, retry: { attempts: 2, backoffSeconds: 1 } });
    const c = stepReadyEvent(created, { stepId: 'c', priority: -1 });
    // Another ready for a's step (a new event), and a's event itself again, within the batch.
    const againForStep: HmsEvent<'act.step.ready'> = { ...a, id: randomUUID(), data: { ...a.data, title: 'Second' } };
    const requests = [a.requestId!, b.requestId!, c.requestId!];

    await oms.publishRun([a, b, againForStep, c, a]);
    await eventually(async () => ((await tasksOf(requests)).length === 3 ? true : undefined), 10_000, 'three tasks');

    const rows = await tasksOf(requests);
    const byRequest = (event: HmsEvent<'act.step.ready'>) => rows.find((row) => row.request_id === event.requestId)!;
    expect(byRequest(a)).toMatchObject({
      pool: configured,
      title: 'Check',
      tags: ['ocr', 'de'],
      priority: 3,
      status: 'queued',
      max_attempts: 7,
      lease_seconds: 40,
      sla_ms: 30 * 60_000,
      payload: { doc: 1 },
      input: { extracted: 'P-1' },
      payload_bytes: '{"doc":1}'.length + '{"extracted":"P-1"}'.length,
    });
    expect(byRequest(b)).toMatchObject({ pool: configured, max_attempts: 2, lease_seconds: 5, sla_ms: 2 * 60_000, retry: { attempts: 2, backoffSeconds: 1 } });
    expect(byRequest(c)).toMatchObject({ pool: created, priority: -1, status: 'queued', sla_ms: null });
    // A pool a plan names is created on its first task, as for a lone event.
    expect(await oms.call('oms.pool.get', { pool: created })).toMatchObject({ pool: created });
    await oms.waitForEvent('oms.pool.updated', (event) => event.data.pool === created);

    await eventually(async () => (queuedEventsOf(requests).length >= 3 ? true : undefined), 5_000, 'three queued events');
    const queued = queuedEventsOf(requests);
    expect(queued.map((event) => event.data.taskId).sort()).toEqual(rows.map((row) => row.id).sort());
    expect(queued.find((event) => event.requestId === a.requestId)).toMatchObject({
      actor: 'system:act',
      data: { stepId: 'a', pool: configured, priority: 3, tags: ['ocr', 'de'], attempt: 0 },
    });
    // Every event of the batch is claimed, the duplicates once.
    const claimed = await oms.sql('SELECT event_id FROM oms.processed_events WHERE consumer = $1 AND event_id = ANY($2::uuid[])', ['oms', [a.id, b.id, c.id, againForStep.id]]);
    expect(claimed).toHaveLength(4);
  });

  it('queues a batch whose pools exist in one statement, with no transaction, claiming each event once', async () => {
    const pools = [newPool(), newPool()];
    for (const pool of pools) await oms.call('oms.pool.upsert', { pool, kind: 'bot', maxAttempts: 4 });
    const steps = [stepReadyEvent(pools[0]!, { stepId: 'p', tags: ['x'] }), stepReadyEvent(pools[1]!, { stepId: 'q' }), stepReadyEvent(pools[0]!, { stepId: 'r', priority: 2 })];
    const again: HmsEvent<'act.step.ready'> = { ...steps[0]!, id: randomUUID() };
    const requests = steps.map((step) => step.requestId!);
    const statements = recordStatements();
    try {
      await oms.publishRun([...steps, again]);
      await eventually(async () => ((await tasksOf(requests)).length === 3 ? true : undefined), 10_000, 'three tasks');
    } finally {
      statements.stop();
    }
    const claims = statements.texts.filter((text) => text.includes('INSERT INTO "oms"."processed_events"'));
    expect(claims).toHaveLength(1);
    expect(claims[0]).toContain('INSERT INTO oms.tasks');
    // (OMS's background jobs may run transactions meanwhile: none of them claims an event.)
    expect(statements.transactions('processed_events')).toBe(0);

    const byStep = (x: { step_id: string }, y: { step_id: string }) => x.step_id.localeCompare(y.step_id);
    expect((await tasksOf(requests)).map(({ pool, step_id, priority, tags, max_attempts }) => ({ pool, step_id, priority, tags, max_attempts })).sort(byStep)).toEqual(
      steps.map((step) => ({ pool: step.data.pool, step_id: step.data.stepId, priority: step.data.priority, tags: step.data.tags, max_attempts: 4 })),
    );
    await eventually(async () => (queuedEventsOf(requests).length >= 3 ? true : undefined), 5_000, 'three queued events');
    expect(queuedEventsOf(requests).map((event) => event.data.stepId).sort()).toEqual(['p', 'q', 'r']);
    const claimed = await oms.sql('SELECT event_id FROM oms.processed_events WHERE consumer = $1 AND event_id = ANY($2::uuid[])', ['oms', [...steps, again].map((step) => step.id)]);
    expect(claimed).toHaveLength(4);

    // The same events again: seen, nothing queued twice.
    const marker = stepReadyEvent(pools[1]!, { stepId: 'marker' });
    await oms.publishRun([...steps, again, marker]);
    await eventually(async () => ((await tasksOf([marker.requestId!])).length === 1 ? true : undefined), 10_000, 'the marker task');
    expect(await tasksOf(requests)).toHaveLength(3);
    await eventually(async () => (queuedEventsOf([marker.requestId!]).length === 1 ? true : undefined), 5_000, 'its queued event');
    expect(queuedEventsOf(requests)).toHaveLength(3);
  });

  it('queues nothing again for a redelivered event', async () => {
    const pool = newPool();
    await oms.call('oms.pool.upsert', { pool, kind: 'bot' });
    const first = stepReadyEvent(pool, { stepId: 'x' });
    const second = stepReadyEvent(pool, { stepId: 'y' });
    await oms.publishRun([first, second]);
    await eventually(async () => ((await tasksOf([first.requestId!, second.requestId!])).length === 2 ? true : undefined), 10_000, 'two tasks');
    // The same events again in a new message (as after a relay crash past JetStream's de-duplication window), with one new step behind them.
    const third = stepReadyEvent(pool, { stepId: 'z' });
    await oms.publishRun([first, second, third]);
    await eventually(async () => ((await tasksOf([third.requestId!])).length === 1 ? true : undefined), 10_000, 'the third task');
    await eventually(async () => (queuedEventsOf([third.requestId!]).length === 1 ? true : undefined), 5_000, 'its queued event');
    expect(await tasksOf([first.requestId!, second.requestId!])).toHaveLength(2);
    expect(queuedEventsOf([first.requestId!, second.requestId!])).toHaveLength(2);
  });

  it('holds back a poison event alone: the rest of its batch is queued, and it is parked', async () => {
    const pool = newPool();
    await oms.call('oms.pool.upsert', { pool, kind: 'bot' });
    const before = stepReadyEvent(pool, { stepId: 'before' });
    // A priority beyond Postgres's integer fails the batch's statement, and then this event alone.
    const poison = stepReadyEvent(pool, { stepId: 'poison', priority: 2 ** 40 });
    const after = stepReadyEvent(pool, { stepId: 'after' });
    await oms.publishRun([before, poison, after]);

    const parked = await eventually(
      async () => (await oms.sql<{ event_id: string; delivery_count: number; last_error: string }>('SELECT event_id, delivery_count, last_error FROM oms.parked_events WHERE consumer = $1 AND event_id = $2', ['oms', poison.id]))[0],
      15_000,
      'the poison event parked',
    );
    expect(parked).toMatchObject({ delivery_count: 2 });
    expect(parked.last_error).toMatch(/out of range/);
    expect((await tasksOf([before.requestId!, after.requestId!])).map((row) => row.step_id)).toEqual(expect.arrayContaining(['before', 'after']));
    expect(await tasksOf([poison.requestId!])).toEqual([]);
    expect(queuedEventsOf([before.requestId!, after.requestId!])).toHaveLength(2);
  });

  it('wakes the long polls of the pools it queued in', async () => {
    const pools = [newPool(), newPool()];
    for (const pool of pools) await oms.call('oms.pool.upsert', { pool, kind: 'bot' });
    const polls = pools.map((pool) => oms.call('oms.task.lease', { pool, worker: `waiter-${pool}`, waitSeconds: 10 }, 20_000));
    // Both calls wait in their pools (on the one replica) before the batch arrives.
    const signals = oms.replicas[0]!.get(TaskSignals);
    await eventually(async () => (pools.every((pool) => signals.waitingIn(pool) === 1) ? true : undefined), 5_000, 'both long polls to wait');
    const steps = pools.map((pool, index) => stepReadyEvent(pool, { stepId: `wake-${index}` }));
    await oms.publishRun(steps);
    const answers = await Promise.all(polls);
    expect(answers.map(({ tasks }) => tasks.map((task) => [task.pool, task.requestId]))).toEqual(steps.map((step) => [[step.data.pool, step.requestId]]));
  });
});
