import { randomUUID } from 'node:crypto';
import { FixedLimits, limits } from '@hms/contracts';
import { eventually, rpcError, startAct, type ActHarness } from '../testing/act-harness';

jest.setTimeout(30_000);

describe('ACT batch create (act.request.create-many)', () => {
  let act: ActHarness;

  beforeAll(async () => {
    act = await startAct('act_requests_batch');
    await act.call('act.plan.register', { definition: { id: 'one_step', steps: [{ id: 'work', pool: 'clerks' }] } });
    await act.call('act.plan.register', {
      definition: { id: 'maybe', steps: [{ id: 'check', pool: 'clerks', when: 'payload.n == 1' }, { id: 'after', pool: 'clerks', after: [], when: 'payload.n == 1' }] },
    });
  });

  afterAll(async () => {
    await act?.close();
  });

  const createMany = (items: Array<Record<string, unknown>>) => act.call('act.request.create-many', { items });

  it('answers one result per item in order; a bad item fails alone and the others are created and started', async () => {
    const ready = act.collect('act.step.ready');
    const reference = `batch-${randomUUID()}`;
    const { results } = await createMany([
      { plan: 'one_step', payload: { i: 0 }, reference },
      { plan: 'no_such_plan', payload: { i: 1 }, reference },
      { plan: 'one_step', payload: { i: 2 }, reference, priority: 10_000 },
      { plan: 'one_step', payload: { i: 3 }, reference, unknownField: true },
      { plan: 'one_step', payload: { i: 4 }, reference },
      { plan: 'one_step', version: 99, reference },
    ]);
    expect(results.map((result) => result.error?.code ?? (result.created ? 'created' : 'repeated'))).toEqual([
      'created',
      'NOT_FOUND',
      'VALIDATION_FAILED',
      'VALIDATION_FAILED',
      'created',
      'NOT_FOUND',
    ]);
    expect(results[2]!.error!.details).toEqual([expect.objectContaining({ path: 'items[2].priority' })]);
    const created = [results[0]!.request!, results[4]!.request!];
    expect(created.map((request) => request.status)).toEqual(['running', 'running']);
    expect(new Set(created.map((request) => request.id)).size).toBe(2);

    // Only the good items exist, each with its step ready and its act.step.ready event.
    const listed = await act.call('act.request.list', { reference });
    expect(listed.items.map((request) => request.id).sort()).toEqual(created.map((request) => request.id).sort());
    for (const request of created) {
      const view = await act.call('act.request.get', { id: request.id });
      expect(view.steps).toEqual([expect.objectContaining({ stepId: 'work', status: 'ready' })]);
      const event = await ready.waitFor((e) => e.requestId === request.id);
      expect(event.data).toMatchObject({ stepId: 'work', pool: 'clerks' });
    }
    expect((await act.call('act.request.get', { id: created[0]!.id })).payload).toEqual({ i: 0 });
    // Each request's events keep their order in its ledger (the batch sends its created events first).
    for (const request of created) {
      const history = await eventually(async () => {
        const page = await act.call('act.request.history', { id: request.id });
        expect(page.items).toHaveLength(2);
        return page;
      });
      expect(history.items.map((entry) => entry.type)).toEqual(['act.request.created', 'act.step.ready']);
    }
  });

  it('starts each item as a single create does: a request whose every step is skipped is completed at once', async () => {
    const completed = act.collect('act.request.completed');
    const { results } = await createMany([{ plan: 'maybe', payload: { n: 2 } }, { plan: 'maybe', payload: { n: 1 } }]);
    const [skipped, running] = results.map((result) => result.request!);
    expect(skipped).toMatchObject({ status: 'completed' });
    expect(skipped!.completedAt).not.toBeNull();
    expect(running).toMatchObject({ status: 'running', completedAt: null });
    await completed.waitFor((e) => e.requestId === skipped!.id);
    const view = await act.call('act.request.get', { id: skipped!.id });
    expect(view.steps.map((step) => step.status)).toEqual(['skipped', 'skipped']);
    const single = await act.call('act.request.create', { plan: 'maybe', payload: { n: 2 } });
    expect(single.request).toMatchObject({ status: 'completed' });
  });

  it('keeps idempotency per item: a repeated key answers the same request, another body under it fails alone, and a key repeated within one batch is one request', async () => {
    const key = `k-${randomUUID()}`;
    const first = await createMany([{ plan: 'one_step', payload: { a: 1 }, idempotencyKey: key }]);
    expect(first.results[0]).toMatchObject({ created: true });
    const id = first.results[0]!.request!.id;

    const other = `k-${randomUUID()}`;
    const { results } = await createMany([
      { plan: 'one_step', payload: { a: 1 }, idempotencyKey: key },
      { plan: 'one_step', payload: { a: 2 }, idempotencyKey: key },
      { plan: 'one_step', payload: { b: 1 }, idempotencyKey: other },
      { plan: 'one_step', payload: { b: 1 }, idempotencyKey: other },
      { plan: 'one_step', payload: { b: 2 }, idempotencyKey: other },
    ]);
    expect(results[0]).toMatchObject({ created: false, request: { id } });
    expect(results[1]!.error!.code).toBe('IDEMPOTENCY_MISMATCH');
    expect(results[2]).toMatchObject({ created: true });
    expect(results[3]).toMatchObject({ created: false, request: { id: results[2]!.request!.id } });
    expect(results[4]!.error!.code).toBe('IDEMPOTENCY_MISMATCH');
    // The key of a single create and of a batch item are the same key.
    const single = await act.call('act.request.create', { plan: 'one_step', payload: { b: 1 }, idempotencyKey: other });
    expect(single).toMatchObject({ created: false, request: { id: results[2]!.request!.id } });
    const rows = await act.sql<{ n: number }>('SELECT count(*)::int AS n FROM act.requests WHERE idempotency_key = ANY($1)', [[key, other]]);
    expect(rows[0]!.n).toBe(2);
  });

  it('creates one request per key when two batches with the same keys race', async () => {
    const keys = Array.from({ length: 20 }, () => `race-${randomUUID()}`);
    const items = keys.map((idempotencyKey, i) => ({ plan: 'one_step', payload: { i }, idempotencyKey }));
    const [a, b] = await Promise.all([createMany(items), createMany([...items].reverse())]);
    const idsA = a.results.map((result) => result.request!.id);
    const idsB = b.results.map((result) => result.request!.id).reverse();
    expect(idsB).toEqual(idsA);
    const rows = await act.sql<{ n: number }>('SELECT count(*)::int AS n FROM act.requests WHERE idempotency_key = ANY($1)', [keys]);
    expect(rows[0]!.n).toBe(keys.length);
    const steps = await act.sql<{ n: number }>('SELECT count(*)::int AS n FROM act.request_steps WHERE request_id = ANY($1::uuid[])', [idsA]);
    expect(steps[0]!.n).toBe(keys.length);
  });

  it(`refuses a batch of no items or more than ${FixedLimits.requestBatchItems}, or items that are not objects, as a whole`, async () => {
    const tooMany = Array.from({ length: FixedLimits.requestBatchItems + 1 }, () => ({ plan: 'one_step' }));
    expect(await rpcError(createMany(tooMany))).toMatchObject({ code: 'VALIDATION_FAILED', details: [expect.objectContaining({ path: 'items' })] });
    expect(await rpcError(createMany([]))).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(await rpcError(act.call('act.request.create-many', { items: [{ plan: 'one_step' }, 'x', null] as never }))).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(await rpcError(act.call('act.request.create-many', { items: 'x' } as never))).toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it('fails an item whose payload is over the payload limit alone, with 413', async () => {
    const { results } = await createMany([{ plan: 'one_step', payload: { blob: 'x'.repeat(limits().payloadBytes) } }, { plan: 'one_step', payload: {} }]);
    expect(results[0]!.error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    expect(results[1]).toMatchObject({ created: true });
  });

  it(`creates ${FixedLimits.requestBatchItems} requests in one call`, async () => {
    const reference = `full-${randomUUID()}`;
    const { results } = await createMany(Array.from({ length: FixedLimits.requestBatchItems }, (_, i) => ({ plan: 'one_step', payload: { i }, reference })));
    expect(results.every((result) => result.created)).toBe(true);
    await eventually(async () => {
      const rows = await act.sql<{ n: number }>(`SELECT count(*)::int AS n FROM act.request_steps s JOIN act.requests r ON r.id = s.request_id WHERE r.reference = $1 AND s.status = 'ready'`, [reference]);
      expect(rows[0]!.n).toBe(FixedLimits.requestBatchItems);
    });
    // Every request's events reach its ledger, and each chain verifies.
    await eventually(async () => {
      const rows = await act.sql<{ n: number }>(
        `SELECT count(DISTINCT l.request_id)::int AS n FROM act.ledger_entries l JOIN act.requests r ON r.id = l.request_id WHERE r.reference = $1 AND l.type = 'act.step.ready'`,
        [reference],
      );
      expect(rows[0]!.n).toBe(FixedLimits.requestBatchItems);
    }, 30_000);
    for (const result of results) {
      const verified = await act.call('act.request.verify', { id: result.request!.id });
      expect(verified).toMatchObject({ valid: true, entries: 2 });
    }
  });
});
