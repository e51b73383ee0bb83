import { randomUUID } from 'node:crypto';
import { context, propagation, ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { Client } from 'pg';
import type { CreateRequestResult } from '@hms/contracts';
import { eventually, rpcError, startAct, type ActHarness } from '../testing/act-harness';
import { RequestsService } from './requests.service';

jest.setTimeout(30_000);

/** What one run of the single creates' statement wrote, read from its parameters and its answer. */
interface InsertRun {
  requests: Array<{ id: string; plan: string; plan_version: number; idempotency_key: string | null }>;
  events: Array<{ type: string; requestId: string; traceparent: string | null }>;
  inserted: string[];
}

/**
 * Single creates that arrive together share one statement (group commit): counted where every
 * statement goes out, pg.Client#query, by the statement's prepared name, with the rows it was
 * given and the ids it answered.
 */
describe('ACT single creates committed together', () => {
  let act: ActHarness;
  let runs: InsertRun[];
  let spy: jest.SpyInstance;

  beforeAll(async () => {
    act = await startAct('act_requests_group');
    await act.call('act.plan.register', { definition: { id: 'steady', steps: [{ id: 'work', pool: 'clerks' }] } });
    const query = Client.prototype.query as (...args: unknown[]) => unknown;
    spy = jest.spyOn(Client.prototype, 'query').mockImplementation(function counted(this: Client, ...args: unknown[]) {
      const config = args[0] as { name?: string; values?: string[] } | string;
      const answer = query.apply(this, args);
      if (typeof config === 'object' && config.name?.startsWith('act_insert_requests_with_steps')) {
        const run: InsertRun = {
          requests: JSON.parse(config.values![0]!),
          events: config.values![2]
            ? (JSON.parse(config.values![2]) as Array<{ type: string; payload: { requestId: string }; headers: { traceparent?: string } | null }>).map((e) => ({
                type: e.type,
                requestId: e.payload.requestId,
                traceparent: e.headers?.traceparent ?? null,
              }))
            : [],
          inserted: [],
        };
        runs.push(run);
        void (answer as Promise<{ rows: Array<{ id: string }> }>).then(
          (result) => run.inserted.push(...result.rows.map((row) => row.id)),
          () => undefined,
        );
      }
      return answer;
    } as never);
  });

  beforeEach(() => {
    runs = [];
  });

  afterAll(async () => {
    spy?.mockRestore();
    await act?.close();
  });

  /** The creates waiting for the statement in flight to end (the group commit's queue). */
  const waiting = () => (act.app.get(RequestsService) as unknown as { creates: { pending: unknown[] } }).creates.pending.length;

  /**
   * Holds the next create statement: an uncommitted request under an idempotency key makes the
   * create under that key wait on the unique index, and every create after it queue behind it,
   * until `release` rolls the holder back (the held create is then inserted).
   */
  async function holdCreates(): Promise<{ key: string; release: () => Promise<void> }> {
    const key = `holder-${randomUUID()}`;
    const holder = new Client({ connectionString: act.databaseUrl });
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query(
      `INSERT INTO act.requests (id, plan, plan_version, status, payload, priority, idempotency_key, request_hash, escalations, created_by, created_at, updated_at)
       VALUES ($1, 'steady', 1, 'running', '{}', 0, $2, 'holder', '[]', 'manager@hms', now(), now())`,
      [randomUUID(), key],
    );
    return {
      key,
      release: async () => {
        await holder.query('ROLLBACK');
        await holder.end();
      },
    };
  }

  /** Starts a create under `key` that `holdCreates` holds, and waits until its statement is in flight. */
  async function heldCreate(key: string): Promise<{ answer: Promise<CreateRequestResult> }> {
    const answer = act.call('act.request.create', { plan: 'steady', payload: { held: true }, idempotencyKey: key });
    await eventually(() => expect(runs.some((run) => run.requests.some((r) => r.idempotency_key === key))).toBe(true));
    return { answer };
  }

  it('writes the creates that arrive together with one statement, each request with its own rows, events, ledger entries and trace', async () => {
    const contextManager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(contextManager);
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    try {
      const hold = await holdCreates();
      const held = await heldCreate(hold.key);
      const traceIds = Array.from({ length: 12 }, (_, i) => `${String(i + 10)}f7651916cd43dd8448eb211c80319c`);
      const inTrace = <T>(traceId: string, work: () => T): T =>
        context.with(trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED }), work);
      const calls = traceIds.map((traceId, i) => inTrace(traceId, () => act.call('act.request.create', { plan: 'steady', payload: { i } })));
      await eventually(() => expect(waiting()).toBe(traceIds.length));
      await hold.release();
      const answers = await Promise.all(calls);
      expect((await held.answer).created).toBe(true);

      // Two statements: the held create, then all twelve together.
      expect(runs.map((run) => run.requests.length)).toEqual([1, traceIds.length]);
      const ids = answers.map((answer) => answer.request.id);
      expect(answers.every((answer) => answer.created)).toBe(true);
      expect(new Set(runs[1]!.inserted)).toEqual(new Set(ids));
      // Every act.request.created first; each event carries its own request's trace.
      const events = runs[1]!.events;
      expect(events.map((e) => e.type)).toEqual([...ids.map(() => 'act.request.created'), ...ids.map(() => 'act.step.ready')]);
      ids.forEach((id, i) => {
        const own = events.filter((e) => e.requestId === id);
        expect(own.map((e) => e.type)).toEqual(['act.request.created', 'act.step.ready']);
        for (const event of own) expect(event.traceparent).toContain(traceIds[i]);
      });

      for (const [i, id] of ids.entries()) {
        const view = await act.call('act.request.get', { id });
        expect(view).toMatchObject({ payload: { i }, status: 'running' });
        expect(view.steps).toEqual([expect.objectContaining({ stepId: 'work', status: 'ready' })]);
        const history = await eventually(async () => {
          const page = await act.call('act.request.history', { id });
          expect(page.items).toHaveLength(2);
          return page;
        });
        expect(history.items.map((entry) => entry.type)).toEqual(['act.request.created', 'act.step.ready']);
      }
    } finally {
      context.disable();
      propagation.disable();
    }
  });

  it('makes one request of concurrent creates under one idempotency key, never two of them in one statement', async () => {
    const key = `same-${randomUUID()}`;
    const body = { plan: 'steady', payload: { same: true }, idempotencyKey: key };
    const answers = await Promise.allSettled([
      ...Array.from({ length: 8 }, () => act.call('act.request.create', body)),
      act.call('act.request.create', { ...body, payload: { same: false } }),
    ]);
    const created = answers.slice(0, 8).map((answer) => (answer as PromiseFulfilledResult<CreateRequestResult>).value);
    expect(created.filter((answer) => answer.created)).toHaveLength(1);
    expect(new Set(created.map((answer) => answer.request.id)).size).toBe(1);
    expect(answers[8]).toMatchObject({ status: 'rejected', reason: { code: 'IDEMPOTENCY_MISMATCH' } });
    for (const run of runs) expect(run.requests.filter((r) => r.idempotency_key === key).length).toBeLessThanOrEqual(1);
    const rows = await act.sql<{ n: number }>(`SELECT count(*)::int AS n FROM act.requests WHERE idempotency_key = $1`, [key]);
    expect(rows).toEqual([{ n: 1 }]);
  });

  it('retries only the creates whose known plan version went stale, not the others of their statement', async () => {
    const plan = `moving_${randomUUID().slice(0, 8)}`;
    await act.call('act.plan.register', { definition: { id: plan, steps: [{ id: 'old_step', pool: 'q' }] } });
    expect((await act.call('act.request.create', { plan })).request.version).toBe(1); // known as the latest here
    // Version 2 as another replica registers it: a row in act.plans this process has not seen.
    await act.sql(`INSERT INTO act.plans (id, version, title, definition, content_hash, created_at, created_by) VALUES ($1, 2, NULL, $2, 'other-replica', now(), 'manager@hms')`, [
      plan,
      JSON.stringify({ id: plan, steps: [{ id: 'new_step', pool: 'q' }] }),
    ]);
    runs = [];
    const hold = await holdCreates();
    const held = await heldCreate(hold.key);
    const calls = Array.from({ length: 6 }, (_, i) => act.call('act.request.create', { plan: i % 2 === 0 ? plan : 'steady', payload: { i } }));
    await eventually(() => expect(waiting()).toBe(6));
    await hold.release();
    const answers = await Promise.all(calls);
    await held.answer;

    expect(answers.every((answer) => answer.created)).toBe(true);
    expect(answers.map((answer) => answer.request.version)).toEqual([2, 1, 2, 1, 2, 1]);
    // The shared statement inserted the steady creates and left the stale ones, which went again.
    const shared = runs[1]!;
    expect(shared.requests).toHaveLength(6);
    expect(new Set(shared.inserted)).toEqual(new Set(answers.filter((_, i) => i % 2 === 1).map((answer) => answer.request.id)));
    const retried = runs.slice(2).flatMap((run) => run.inserted);
    expect(new Set(retried)).toEqual(new Set(answers.filter((_, i) => i % 2 === 0).map((answer) => answer.request.id)));
    // The stale try wrote nothing: each request has its one created event, of the version it has.
    for (const answer of answers) {
      const history = await eventually(async () => {
        const page = await act.call('act.request.history', { id: answer.request.id });
        expect(page.items).toHaveLength(2);
        return page;
      });
      expect(history.items.map((entry) => entry.type)).toEqual(['act.request.created', 'act.step.ready']);
      expect((await act.call('act.request.get', { id: answer.request.id })).steps.map((step) => step.stepId)).toEqual([answer.request.version === 2 ? 'new_step' : 'work']);
    }
    const rows = await act.sql<{ version: number; n: number }>(`SELECT plan_version AS version, count(*)::int AS n FROM act.requests WHERE plan = $1 GROUP BY 1 ORDER BY 1`, [plan]);
    expect(rows).toEqual([{ version: 1, n: 1 }, { version: 2, n: 3 }]);
  });

  it('answers a bad create among concurrent good ones alone, and the good ones are created', async () => {
    const key = `taken-${randomUUID()}`;
    await act.call('act.request.create', { plan: 'steady', payload: { first: true }, idempotencyKey: key });
    const reference = `mixed-${randomUUID()}`;
    runs = [];
    const hold = await holdCreates();
    const held = await heldCreate(hold.key);
    const good = Array.from({ length: 4 }, (_, i) => act.call('act.request.create', { plan: 'steady', payload: { i }, reference }));
    const bad = [
      rpcError(act.call('act.request.create', { plan: 'no_such_plan', reference })),
      rpcError(act.call('act.request.create', { plan: 'steady', version: 99, reference })),
      rpcError(act.call('act.request.create', { plan: 'steady', payload: { first: false }, idempotencyKey: key, reference })),
    ];
    // The unknown plan and version fail before the statement; the taken key's create goes into it.
    await eventually(() => expect(waiting()).toBe(5));
    await hold.release();
    const created = await Promise.all(good);
    await held.answer;
    expect((await Promise.all(bad)).map((error) => error.code)).toEqual(['NOT_FOUND', 'NOT_FOUND', 'IDEMPOTENCY_MISMATCH']);
    expect(created.every((answer) => answer.created)).toBe(true);
    expect(runs.map((run) => run.requests.length)).toEqual([1, 5]);
    expect(new Set(runs[1]!.inserted)).toEqual(new Set(created.map((answer) => answer.request.id)));
    const listed = await act.call('act.request.list', { reference });
    expect(listed.items.map((request) => request.id).sort()).toEqual(created.map((answer) => answer.request.id).sort());
  });
});
