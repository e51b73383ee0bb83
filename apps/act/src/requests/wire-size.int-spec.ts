import { startNatsServer, testNatsAuth } from '@hms/testing';
import { rpcError, eventually, startAct, type ActHarness } from '../testing/act-harness';

jest.setTimeout(30_000);

/** A small NATS `max_payload`, so "too large to carry on" is tens of KB rather than a megabyte. */
const MAX_PAYLOAD = 64 * 1024;

const payloadOf = (bytes: number) => ({ blob: 'x'.repeat(bytes) });

describe('ACT within NATS max_payload', () => {
  let nats: { url: string; stop(): Promise<void> };
  let act: ActHarness;

  beforeAll(async () => {
    // With the run's users, as every server of the suite.
    nats = await startNatsServer({ maxPayload: MAX_PAYLOAD, auth: testNatsAuth() });
    act = await startAct('act_wire_size', { NATS_URL: nats.url });
    await act.call('act.plan.register', {
      definition: { id: 'three_at_once', steps: [{ id: 'a', pool: 'clerks' }, { id: 'b', pool: 'clerks', after: [] }, { id: 'c', pool: 'clerks', after: [] }] },
    });
    await act.call('act.plan.register', {
      definition: { id: 'twenty_at_once', steps: Array.from({ length: 20 }, (_, i) => ({ id: `s${i}`, pool: 'clerks', after: [] })) },
    });
    await act.call('act.plan.register', {
      definition: { id: 'named_inputs', steps: [{ id: 'a', pool: 'clerks', input: { blob: 'payload.blob' } }] },
    });
  });

  afterAll(async () => {
    await act?.close();
    await nats?.stop();
  });

  it('refuses at its creation a request whose payload would leave its steps no room on NATS', async () => {
    const refused = await rpcError(act.call('act.request.create', { plan: 'three_at_once', payload: payloadOf(55_000), reference: 'too-big' }));
    expect(refused).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', details: [{ path: 'payload' }] });
    expect((await act.call('act.request.list', { reference: 'too-big' })).items).toEqual([]);
    // A step's default input holds the payload too: half the room is all a payload may take then.
    expect(await rpcError(act.call('act.request.create', { plan: 'three_at_once', payload: payloadOf(25_000), reference: 'too-big' }))).toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
      details: [{ path: 'payload' }],
    });
    expect((await act.call('act.request.list', { reference: 'too-big' })).items).toEqual([]);
  });

  it('fails a step whose input is too large to carry beside the payload, with the reason, and emits no oversize event', async () => {
    const ready = act.collect('act.step.ready');
    const { request } = await act.call('act.request.create', { plan: 'named_inputs', payload: payloadOf(25_000) });
    const failed = await eventually(async () => {
      const view = await act.call('act.request.get', { id: request.id });
      expect(view.status).toBe('failed');
      return view;
    });
    expect(failed.details.reason).toMatch(/^the input of step 'a' is \d+ bytes of JSON; at most \d+ are allowed/);
    expect(ready.forRequest(request.id)).toEqual([]);
  });

  it('refuses a batch whose answer could not travel back over NATS, creating none of it', async () => {
    const reference = 'batch-answer-too-big';
    // About 100 bytes per item asked for; each answer (a request summary) is several times that.
    const items = Array.from({ length: 300 }, (_, i) => ({ plan: 'three_at_once', payload: { i }, reference }));
    const refused = await rpcError(act.call('act.request.create-many', { items }));
    expect(refused).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', details: [{ path: 'items' }] });
    expect((await act.call('act.request.list', { reference })).items).toEqual([]);
    const { results } = await act.call('act.request.create-many', { items: items.slice(0, 20) });
    expect(results.every((result) => result.created)).toBe(true);
  });

  it('shortens a history page of large entries and continues it with its cursor', async () => {
    // Under the ledger's inline limit (larger values are kept as digests), so each entry carries it.
    const { request } = await act.call('act.request.create', { plan: 'twenty_at_once', payload: payloadOf(3_500) });
    // created, then a step.ready per step: twenty entries of about 3.5 KB, more than one 64 KiB answer holds.
    await eventually(async () => {
      const rows = await act.sql<{ n: number }>(`SELECT count(*)::int AS n FROM act.ledger_entries WHERE request_id = $1`, [request.id]);
      expect(rows[0]!.n).toBe(21);
    });
    const seen: number[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await act.call('act.request.history', { id: request.id, limit: 500, ...(cursor ? { cursor } : {}) });
      expect(page.items.length).toBeGreaterThan(0);
      seen.push(...page.items.map((entry) => entry.seq));
      cursor = page.nextCursor ?? undefined;
      pages += 1;
    } while (cursor);
    expect(pages).toBeGreaterThan(1);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(new Set(seen).size).toBe(21);
  });
});
