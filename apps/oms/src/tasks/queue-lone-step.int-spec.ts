import { randomUUID } from 'node:crypto';
import type { EventDataMap, HmsEvent } from '@hms/contracts';
import { EventOutbox } from '@hms/platform';
import { leasesHandedOff } from '../leases/lease-metrics';
import { TaskSignals } from '../leases/task-signals';
import { eventually, OmsHarness, queueAtOnce, stepReadyEvent } from '../testing/oms-harness';
import { TasksService } from './tasks.service';

jest.setTimeout(60_000);

interface TaskRow {
  id: string;
  pool: string;
  title: string;
  tags: string[];
  priority: number;
  status: string;
  attempt: number;
  max_attempts: number;
  retry: unknown;
  payload: unknown;
  input: unknown;
  payload_bytes: number;
  lease_seconds: number;
  sla_ms: number | null;
  pick_by_ms: number;
  available_ms: number;
  created_ms: number;
  queued_at: Date;
}

/**
 * A lone `act.step.ready` is queued by one statement (TasksService.queueStepsAtOnce), a batch in
 * the consumer's transaction (queueFromStep). Both must queue the same task with the same event.
 */
describe('queueing a step alone and in the consumer transaction', () => {
  let oms: OmsHarness;
  let tasks: TasksService;
  let outbox: EventOutbox;

  beforeAll(async () => {
    oms = await OmsHarness.start('oms_lone_step');
    tasks = oms.replicas[0]!.get(TasksService);
    outbox = oms.replicas[0]!.get(EventOutbox);
  });

  afterAll(async () => {
    await oms?.close();
  });

  const stepReady = (pool: string, data: Partial<EventDataMap['act.step.ready']> = {}) =>
    stepReadyEvent(pool, { tags: ['ocr', 'ocr', 'de'], priority: 3, payload: { doc: 1 }, input: { extracted: 'P-1' }, ...data });

  async function taskOf(event: HmsEvent<'act.step.ready'>): Promise<TaskRow | undefined> {
    const [row] = await oms.sql<TaskRow>(
      `SELECT id, pool, title, tags, priority, status, attempt, max_attempts, retry, payload, input, payload_bytes, lease_seconds,
              (extract(epoch FROM sla_due_at - queued_at) * 1000)::int AS sla_ms,
              (extract(epoch FROM pick_by - queued_at) * 1000)::int AS pick_by_ms,
              (extract(epoch FROM available_at - queued_at) * 1000)::int AS available_ms,
              (extract(epoch FROM created_at - queued_at) * 1000)::int AS created_ms, queued_at
       FROM oms.tasks WHERE request_id = $1`,
      [event.requestId],
    );
    return row;
  }

  /** The task and its `oms.task.queued` event, without what differs by nature (ids). */
  async function queuedBy(event: HmsEvent<'act.step.ready'>) {
    const row = (await taskOf(event))!;
    const queued = await oms.waitForEvent('oms.task.queued', (e) => e.data.taskId === row.id);
    const { id: _taskId, queued_at: queuedAt, ...task } = row;
    const { taskId: _eventTaskId, slaDueAt, ...data } = queued.data;
    const slaMs = slaDueAt === null ? null : Date.parse(slaDueAt) - queuedAt.getTime();
    return {
      task,
      event: { requestId: queued.requestId === event.requestId, actor: queued.actor, source: queued.source, data: { ...data, slaMs } },
      // The transaction stamps its event when it emits it, a little after queueing; the statement at the queueing itself.
      eventAtMs: Date.parse(queued.at) - queuedAt.getTime(),
    };
  }

  it.each([
    ['the pool settings', {}],
    ['the step settings', { leaseSeconds: 5, slaMinutes: 2, retry: { attempts: 2, backoffSeconds: 1 } }],
    ['an SLA from the step and the rest from the pool', { slaMinutes: 0.5 }],
  ])('queues the same task with the same event, with %s', async (_label, settings) => {
    const pool = `lone-${randomUUID().slice(0, 8)}`;
    await oms.call('oms.pool.upsert', { pool, kind: 'bot', leaseSeconds: 40, maxAttempts: 7, slaMinutes: 30 });
    const alone = stepReady(pool, settings);
    const batched = stepReady(pool, settings);

    expect(await queueAtOnce(tasks, alone)).toBe('handled');
    await outbox.transaction((tx, emit) => tasks.queueFromStep(batched, tx, emit));

    const viaStatement = await queuedBy(alone);
    const viaTransaction = await queuedBy(batched);
    expect(viaStatement.task).toEqual(viaTransaction.task);
    expect(viaStatement.event).toEqual(viaTransaction.event);
    expect(viaStatement.eventAtMs).toBe(0);
    expect(viaTransaction.eventAtMs).toBeGreaterThanOrEqual(0);
    expect(viaStatement.task).toMatchObject({ tags: ['ocr', 'de'], status: 'queued', attempt: 0, available_ms: 0, created_ms: 0 });
    // Both travel in the lease answer, so both are counted.
    expect(viaStatement.task).toMatchObject({ input: { extracted: 'P-1' }, payload_bytes: '{"doc":1}'.length + '{"extracted":"P-1"}'.length });
  });

  it('claims the event: the same event again queues nothing and is reported as seen', async () => {
    const pool = `lone-${randomUUID().slice(0, 8)}`;
    await oms.call('oms.pool.upsert', { pool, kind: 'bot' });
    const event = stepReady(pool);
    expect(await queueAtOnce(tasks, event)).toBe('handled');
    expect(await queueAtOnce(tasks, event)).toBe('seen');
    expect(await oms.sql('SELECT 1 FROM oms.processed_events WHERE consumer = $1 AND event_id = $2', ['oms', event.id])).toHaveLength(1);

    // Another ready for the same step (a new event) is claimed but queues no second task.
    expect(await queueAtOnce(tasks, { ...event, id: randomUUID() })).toBe('handled');
    expect(await oms.sql('SELECT id FROM oms.tasks WHERE request_id = $1', [event.requestId])).toHaveLength(1);
  });

  const handedOff = async (pool: string) => (await leasesHandedOff.get()).values.find((v) => v.labels.pool === pool)?.value ?? 0;

  /** Starts a long poll and resolves once it is parked on the replica (joined, past its first empty look), with its answer to come. */
  async function parkedPoll(pool: string, request: { worker: string; tags?: string[]; leaseSeconds?: number; waitSeconds: number }) {
    const signals = oms.replicas[0]!.get(TaskSignals);
    const before = signals.waitingIn(pool);
    const poll = oms.call('oms.task.lease', { pool, ...request }, (request.waitSeconds + 5) * 1000);
    await eventually(async () => (signals.waitingIn(pool) > before ? true : undefined), 5_000, 'the long poll to wait');
    await new Promise((resolve) => setTimeout(resolve, 200));
    return { answer: poll };
  }

  it('leases the task to a worker parked in a long poll, in the statement that queues it', async () => {
    const pool = `lone-${randomUUID().slice(0, 8)}`;
    await oms.call('oms.pool.upsert', { pool, kind: 'bot', leaseSeconds: 40 });
    const poll = await parkedPoll(pool, { worker: 'idle-bot', leaseSeconds: 25, waitSeconds: 10 });
    const event = stepReady(pool);

    expect(await queueAtOnce(tasks, event)).toBe('handled');
    const { tasks: got } = await poll.answer;
    expect(got).toHaveLength(1);
    const [task] = got;
    expect(task).toMatchObject({ requestId: event.requestId, stepId: 'check', title: 'Check', pool, tags: ['ocr', 'de'], payload: { doc: 1 }, input: { extracted: 'P-1' }, attempt: 1, leaseSeconds: 40 });
    expect(await handedOff(pool)).toBe(1);

    const [row] = await oms.sql<{ status: string; worker: string; attempt: number; lease_token: string; lease_id: string; lease_duration_seconds: number; expires: Date; granted: Date; queued_at: Date }>(
      `SELECT status, worker, attempt, lease_token, lease_id, lease_duration_seconds, lease_expires_at AS expires, updated_at AS granted, queued_at FROM oms.tasks WHERE id = $1`,
      [task!.id],
    );
    expect(row).toMatchObject({ status: 'leased', worker: 'idle-bot', attempt: 1, lease_token: task!.leaseToken, lease_duration_seconds: 25 });
    expect(row!.expires.toISOString()).toBe(task!.leaseExpiresAt);
    expect(row!.expires.getTime() - row!.granted.getTime()).toBe(25_000);
    expect(row!.granted.getTime()).toBeGreaterThanOrEqual(row!.queued_at.getTime());

    // The ledger sees the task queued, then leased, as if the worker had leased it itself.
    const queued = await oms.waitForEvent('oms.task.queued', (e) => e.data.taskId === task!.id);
    const leased = await oms.waitForEvent('oms.task.leased', (e) => e.data.taskId === task!.id);
    expect(oms.events.indexOf(queued)).toBeLessThan(oms.events.indexOf(leased));
    expect(leased).toMatchObject({ requestId: event.requestId, source: 'oms', at: row!.granted.toISOString() });
    expect(leased.data).toEqual({
      taskId: task!.id,
      stepId: 'check',
      pool,
      worker: 'idle-bot',
      leaseId: row!.lease_id,
      attempt: 1,
      leaseExpiresAt: task!.leaseExpiresAt,
      waitedMs: row!.granted.getTime() - row!.queued_at.getTime(),
    });

    // The token is the lease's like any other.
    expect(await oms.call('oms.task.complete', { taskId: task!.id, leaseToken: task!.leaseToken, output: { done: true } })).toEqual({ id: task!.id, status: 'completed' });
  });

  it('hands off to no one whose tags do not cover the task: it is queued and announced', async () => {
    const pool = `lone-${randomUUID().slice(0, 8)}`;
    await oms.call('oms.pool.upsert', { pool, kind: 'bot' });
    const french = await parkedPoll(pool, { worker: 'fr-bot', tags: ['fr'], waitSeconds: 2 });
    const event = stepReady(pool);
    expect(await queueAtOnce(tasks, event)).toBe('handled');
    expect(await taskOf(event)).toMatchObject({ status: 'queued', attempt: 0 });
    expect((await french.answer).tasks).toEqual([]);
    expect(await handedOff(pool)).toBe(0);
  });

  it('sends the parked worker back to look when the step already had its task', async () => {
    const pool = `lone-${randomUUID().slice(0, 8)}`;
    await oms.call('oms.pool.upsert', { pool, kind: 'bot' });
    const first = stepReady(pool);
    expect(await queueAtOnce(tasks, first)).toBe('handled');
    // That task is taken; a second ready for the same step queues nothing and leases nothing.
    const [taken] = (await oms.call('oms.task.lease', { pool, worker: 'busy-bot' })).tasks;
    expect(taken).toBeDefined();
    const poll = await parkedPoll(pool, { worker: 'idle-bot', waitSeconds: 2 });
    expect(await queueAtOnce(tasks, { ...first, id: randomUUID() })).toBe('handled');
    expect((await poll.answer).tasks).toEqual([]);
    expect(await oms.sql('SELECT status, worker FROM oms.tasks WHERE request_id = $1', [first.requestId])).toEqual([{ status: 'leased', worker: 'busy-bot' }]);
    expect(await handedOff(pool)).toBe(0);
  });

  it('declines, writing nothing, when the pool does not exist yet or the event is malformed', async () => {
    const missing = stepReady(`lone-${randomUUID().slice(0, 8)}`);
    expect(await queueAtOnce(tasks, missing)).toBe('declined');
    expect(await taskOf(missing)).toBeUndefined();
    expect(await oms.sql('SELECT 1 FROM oms.processed_events WHERE event_id = $1', [missing.id])).toHaveLength(0);

    expect(await queueAtOnce(tasks, { ...stepReady('Not A Pool!'), requestId: null })).toBe('declined');
  });
});
