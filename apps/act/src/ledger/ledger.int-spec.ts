import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventStream, type AnyHmsEvent, type LedgerEntryView } from '@hms/contracts';
import { DataSource } from 'typeorm';
import { CheckpointSigner, type SignedCheckpoint } from './checkpoint-format';
import { eventually, rpcError, startAct, type ActHarness } from '../testing/act-harness';
import { Client } from 'pg';
import { canonicalJson, sha256Hex } from '../common/canonical-json';
import { chainNext, GENESIS_HASH, type ChainEntry } from './hash-chain';
import { LedgerCheckpointJob } from './ledger-checkpoint.job';
import { appendLedgerEntries, type LedgerEvent } from './ledger-append';
import { LedgerService } from './ledger.service';

// Booting the service and waiting for consumers takes seconds on a busy CI machine.
jest.setTimeout(30_000);

const voucherYaml = readFileSync(join(__dirname, '..', '..', '..', '..', 'examples', 'plans', 'disaster-voucher.plan.yaml'), 'utf8');

describe('ACT ledger', () => {
  let act: ActHarness;
  /** One event in a transaction of its own, as a consumer replica would append it. */
  const appendAlone = async (event: LedgerEvent) => (await act.app.get(DataSource).transaction((tx) => appendLedgerEntries(tx, [event])))[0];

  beforeAll(async () => {
    act = await startAct('act_ledger');
    await act.call('act.plan.register', { yaml: voucherYaml });
  });

  afterAll(async () => {
    await act?.close();
  });

  /** All entries of a request, through the paginated RPC. */
  const history = async (id: string): Promise<LedgerEntryView[]> => {
    const entries: LedgerEntryView[] = [];
    let cursor: string | undefined;
    do {
      const page = await act.call('act.request.history', { id, limit: 500, ...(cursor ? { cursor } : {}) });
      entries.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return entries;
  };

  const historyOfLength = (id: string, length: number) =>
    eventually(async () => {
      const entries = await history(id);
      if (entries.length !== length) throw new Error(`${entries.length} entries, waiting for ${length}`);
      return entries;
    });

  /** A voucher request run to completion, the way OMS would report it. */
  const completedVoucher = async (): Promise<string> => {
    const ready = act.collect('act.step.ready');
    const { request } = await act.call('act.request.create', { plan: 'disaster_voucher', payload: { household: 2 }, reference: 'L-1' });
    for (const stepId of ['verify_income', 'inspect', 'pay']) {
      await ready.waitFor((e) => e.requestId === request.id && e.data.stepId === stepId);
      await act.publish('oms.task.completed', request.id, { taskId: randomUUID(), stepId, pool: 'q', worker: 'worker-7', leaseId: randomUUID(), attempt: 1, output: { stepId } });
    }
    await historyOfLength(request.id, 8);
    return request.id;
  };

  it('records every event of a request, oldest first, in a valid hash chain', async () => {
    const id = await completedVoucher();
    const entries = await history(id);
    expect(entries.map((e) => [e.seq, e.type, e.actor])).toEqual([
      [1, 'act.request.created', 'manager@hms'],
      [2, 'act.step.ready', 'manager@hms'],
      [3, 'oms.task.completed', 'worker@hms'],
      [4, 'act.step.ready', 'system:act'],
      [5, 'oms.task.completed', 'worker@hms'],
      [6, 'act.step.ready', 'system:act'],
      [7, 'oms.task.completed', 'worker@hms'],
      [8, 'act.request.completed', 'system:act'],
    ]);
    expect(entries[0].prevHash).toBe(GENESIS_HASH);
    for (let i = 1; i < entries.length; i++) expect(entries[i].prevHash).toBe(entries[i - 1].hash);
    expect(entries[1].data).toMatchObject({ stepId: 'verify_income', pool: 'hud_case_workers', payload: { household: 2 } });
    expect(entries[2].data).toMatchObject({ stepId: 'verify_income', worker: 'worker-7', output: { stepId: 'verify_income' } });
    expect(entries.every((e) => /^[0-9a-f]{64}$/.test(e.hash) && !Number.isNaN(Date.parse(e.at)))).toBe(true);
    expect(await act.call('act.request.verify', { id })).toEqual({ valid: true, entries: 8 });
  });

  it('pages the history by seq', async () => {
    const id = await completedVoucher();
    const first = await act.call('act.request.history', { id, limit: 3 });
    expect(first.items.map((e) => e.seq)).toEqual([1, 2, 3]);
    const second = await act.call('act.request.history', { id, limit: 3, cursor: first.nextCursor! });
    expect(second.items.map((e) => e.seq)).toEqual([4, 5, 6]);
    const last = await act.call('act.request.history', { id, limit: 3, cursor: second.nextCursor! });
    expect(last).toEqual({ items: expect.any(Array), nextCursor: null });
    expect(last.items.map((e) => e.seq)).toEqual([7, 8]);
    expect((await rpcError(act.call('act.request.history', { id, cursor: 'x' }))).code).toBe('VALIDATION_FAILED');
  });

  it('appends a redelivered event once and ignores events of no request', async () => {
    const { request } = await act.call('act.request.create', { plan: 'disaster_voucher' });
    await historyOfLength(request.id, 2);
    const event = await act.publish('oms.task.leased', request.id, {
      taskId: randomUUID(),
      stepId: 'verify_income',
      pool: 'hud_case_workers',
      worker: 'w',
      leaseId: randomUUID(),
      attempt: 1,
      leaseExpiresAt: new Date().toISOString(),
      waitedMs: 5,
    });
    await historyOfLength(request.id, 3);
    const oms = await act.busOf('oms');
    await oms.jetstream.publish(oms.subject(EventStream.subjectOf('oms.task.leased')), JSON.stringify(event), { msgID: randomUUID() });
    await act.publish('oms.pool.updated', null, { pool: 'hud_case_workers' });
    await act.publish('oms.task.leased', request.id, { ...event.data, leaseId: randomUUID() });
    const entries = await historyOfLength(request.id, 4);
    expect(entries.map((e) => e.type)).toEqual(['act.request.created', 'act.step.ready', 'oms.task.leased', 'oms.task.leased']);
    const rows = await act.sql<{ count: string }>('SELECT count(*) FROM act.ledger_entries WHERE event_id = $1', [event.id]);
    expect(rows[0].count).toBe('1');
  });

  it('drops a malformed event without holding up the ones after it', async () => {
    const { request } = await act.call('act.request.create', { plan: 'disaster_voucher' });
    await historyOfLength(request.id, 2);
    await act.publish('oms.task.requeued', 'not-a-request-id', { taskId: 't', stepId: 's', pool: 'q', leaseId: 'l', attempt: 1, reason: 'released' });
    const oms = await act.busOf('oms');
    await oms.jetstream.publish(oms.subject(EventStream.subjectOf('oms.task.requeued')), 'not json', { msgID: randomUUID() });
    await act.publish('oms.task.requeued', request.id, { taskId: 't', stepId: 'verify_income', pool: 'q', leaseId: 'l', attempt: 1, reason: 'released' });
    const entries = await historyOfLength(request.id, 3);
    expect(entries[2].type).toBe('oms.task.requeued');
  });

  it('keeps one chain when appends to a request race', async () => {
    const { request } = await act.call('act.request.create', { plan: 'disaster_voucher' });
    await historyOfLength(request.id, 2);
    const appended = await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        appendAlone({ id: randomUUID(), requestId: request.id, type: 'oms.task.requeued', at: new Date().toISOString(), actor: 'system:oms', data: { n: i } }),
      ),
    );
    expect(appended.map((e) => e!.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, i) => i + 3));
    expect(await act.call('act.request.verify', { id: request.id })).toEqual({ valid: true, entries: 27 });
  });

  it('records a batch spanning several requests in one go: each chain in order, repeats once, and says which were new', async () => {
    const requests = await Promise.all([0, 1, 2].map(() => act.call('act.request.create', { plan: 'disaster_voucher' })));
    for (const { request } of requests) await historyOfLength(request.id, 2);
    const ledger = act.app.get(LedgerService);
    const event = (requestId: string, n: number) => ({ id: randomUUID(), requestId, type: 'oms.task.requeued', at: new Date().toISOString(), actor: 'system:oms', data: { n } });
    const [a, b, c] = requests.map((r) => r.request.id);
    const alreadyRecorded = event(a!, 0);
    await appendAlone(alreadyRecorded);
    const batch = [event(b!, 1), event(a!, 1), event(c!, 1), event(a!, 2), alreadyRecorded, event(b!, 2)];
    const events = [...batch, batch[1]!].map((entry) => ({ ...entry, source: 'oms' }) as unknown as AnyHmsEvent);
    const recorded = await act.app.get(DataSource).transaction((tx) => ledger.record(events, tx));

    expect([...recorded].sort()).toEqual(batch.filter((e) => e !== alreadyRecorded).map((e) => e.id.toLowerCase()).sort());
    const ns = async (id: string) => (await history(id)).slice(2).map((e) => (e.data as { n: number }).n);
    expect(await ns(a!)).toEqual([0, 1, 2]);
    expect(await ns(b!)).toEqual([1, 2]);
    expect(await ns(c!)).toEqual([1]);
    for (const id of [a, b, c]) expect(await act.call('act.request.verify', { id: id! })).toMatchObject({ valid: true });
  });

  it('records an event once when it is appended under two requests at the same moment: the second append fails, and its retry finds it recorded', async () => {
    const event = (requestId: string) => ({ id: eventId, requestId, type: 'oms.task.requeued', at: new Date().toISOString(), actor: 'system:oms', data: {} });
    const eventId = randomUUID();
    const [a, b] = [randomUUID(), randomUUID()];
    const first = new Client({ connectionString: act.serviceDatabaseUrl });
    await first.connect();
    try {
      // The first append's entry inserted, its transaction not committed yet: the second cannot see it.
      await first.query('BEGIN');
      await first.query(
        `INSERT INTO act.ledger_entries (request_id, seq, event_id, at, type, actor, data, prev_hash, hash) VALUES ($1, 1, $2, now(), 'oms.task.requeued', 'system:oms', '{}', $3, 'h')`,
        [a, eventId, GENESIS_HASH],
      );
      const second = appendAlone(event(b)).then(
        () => 'appended',
        (error: Error) => error.message,
      );
      await eventually(async () => {
        const [waiting] = await act.sql<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO "act"."ledger_entries"%'`);
        if (waiting.n === 0) throw new Error('the second append is not waiting for the first yet');
      });
      await first.query('COMMIT');
      expect(await second).toMatch(/ledger_entries_event_id_key/);
    } finally {
      await first.end();
    }
    expect(await appendAlone(event(b))).toBeNull();
    const rows = await act.sql<{ request_id: string }>('SELECT request_id FROM act.ledger_entries WHERE event_id = $1', [eventId]);
    expect(rows).toEqual([{ request_id: a }]);
    expect(await act.sql('SELECT 1 FROM act.ledger_heads WHERE request_id = $1', [b])).toEqual([]);
  });

  it('knows a repeat whose ids are spelled in upper case, and chains it as stored', async () => {
    const { request } = await act.call('act.request.create', { plan: 'disaster_voucher' });
    await historyOfLength(request.id, 2);
    const event = { id: randomUUID().toUpperCase(), requestId: request.id.toUpperCase(), type: 'oms.task.requeued', at: new Date().toISOString(), actor: 'system:oms', data: {} };
    expect(await appendAlone(event)).toMatchObject({ seq: 3, eventId: event.id.toLowerCase() });
    expect(await appendAlone(event)).toBeNull();
    expect(await act.call('act.request.verify', { id: request.id })).toEqual({ valid: true, entries: 3 });
  });

  it('refuses UPDATE, DELETE and TRUNCATE of ledger entries', async () => {
    const id = await completedVoucher();
    await expect(act.sql(`UPDATE act.ledger_entries SET actor = 'mallory' WHERE request_id = $1 AND seq = 3`, [id])).rejects.toThrow(
      'act.ledger_entries is append-only: UPDATE is not allowed',
    );
    await expect(act.sql('DELETE FROM act.ledger_entries WHERE request_id = $1', [id])).rejects.toThrow('act.ledger_entries is append-only: DELETE is not allowed');
    await expect(act.sql('TRUNCATE act.ledger_entries')).rejects.toThrow('act.ledger_entries is append-only: TRUNCATE is not allowed');
    expect(await act.call('act.request.verify', { id })).toEqual({ valid: true, entries: 8 });
  });

  /** Changes the ledger the way only someone with superuser rights can: with triggers off. */
  const tamper = async (query: string, params: unknown[]) => {
    await act.sql('SET session_replication_role = replica');
    try {
      await act.sql(query, params);
    } finally {
      await act.sql('SET session_replication_role = origin');
    }
  };

  it('finds an altered entry at its seq', async () => {
    const id = await completedVoucher();
    await tamper(`UPDATE act.ledger_entries SET data = jsonb_set(data, '{output}', '{"stepId": "forged"}') WHERE request_id = $1 AND seq = 5`, [id]);
    expect(await act.call('act.request.verify', { id })).toEqual({
      valid: false,
      entries: 8,
      brokenAt: { seq: 5, reason: 'hash does not match the entry content: the entry was altered' },
      reason: 'hash does not match the entry content: the entry was altered',
    });
  });

  it('finds an altered actor even when the attacker recomputes nothing else', async () => {
    const id = await completedVoucher();
    await tamper(`UPDATE act.ledger_entries SET actor = 'someone-else' WHERE request_id = $1 AND seq = 3`, [id]);
    expect((await act.call('act.request.verify', { id })).brokenAt?.seq).toBe(3);
  });

  it('finds a removed entry', async () => {
    const id = await completedVoucher();
    await tamper('DELETE FROM act.ledger_entries WHERE request_id = $1 AND seq = 4', [id]);
    expect(await act.call('act.request.verify', { id })).toEqual({
      valid: false,
      entries: 7,
      brokenAt: { seq: 4, reason: 'entry 4 is missing (the next entry is 5)' },
      reason: 'entry 4 is missing (the next entry is 5)',
    });
  });

  it('finds reordered entries', async () => {
    const id = await completedVoucher();
    // Swap entries 6 and 7 (through a free seq: the primary key is checked row by row).
    await tamper('UPDATE act.ledger_entries SET seq = 1000 WHERE request_id = $1 AND seq = 6', [id]);
    await tamper('UPDATE act.ledger_entries SET seq = 6 WHERE request_id = $1 AND seq = 7', [id]);
    await tamper('UPDATE act.ledger_entries SET seq = 7 WHERE request_id = $1 AND seq = 1000', [id]);
    expect(await act.call('act.request.verify', { id })).toEqual({
      valid: false,
      entries: 8,
      brokenAt: { seq: 6, reason: 'prevHash is not the hash of entry 5: an entry before it was removed, reordered or rewritten' },
      reason: 'prevHash is not the hash of entry 5: an entry before it was removed, reordered or rewritten',
    });
  });

  /** Writes a forged entry, correctly linked, with `run` (the service role, or the owner). */
  const appendForged = (run: (query: string, params: unknown[]) => Promise<unknown>, id: string, forged: ReturnType<typeof chainNext>) =>
    run('INSERT INTO act.ledger_entries (request_id, seq, event_id, at, type, actor, data, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9)', [
      id,
      forged.seq,
      forged.eventId,
      forged.at,
      forged.type,
      forged.actor,
      forged.dataJson,
      forged.prevHash,
      forged.hash,
    ]);

  /** SQL as the role ACT works as. */
  const asService = async (query: string, params: unknown[] = []) => {
    const client = new Client({ connectionString: act.serviceDatabaseUrl });
    await client.connect();
    try {
      return (await client.query(query, params)).rows as Array<Record<string, unknown>>;
    } finally {
      await client.end();
    }
  };

  it('refuses the service role UPDATE, DELETE, TRUNCATE, ALTER and DROP TRIGGER on the ledger', async () => {
    const id = await completedVoucher();
    const attempts = [
      [`UPDATE act.ledger_entries SET actor = 'mallory' WHERE request_id = '${id}'`, /permission denied for table ledger_entries/],
      [`DELETE FROM act.ledger_entries WHERE request_id = '${id}'`, /permission denied for table ledger_entries/],
      ['TRUNCATE act.ledger_entries', /permission denied for table ledger_entries/],
      ['ALTER TABLE act.ledger_entries DISABLE TRIGGER ledger_entries_append_only', /must be owner of table ledger_entries/],
      ['DROP TRIGGER ledger_entries_append_only ON act.ledger_entries', /must be owner of (table|relation) ledger_entries/],
      ['ALTER TABLE act.ledger_heads DROP COLUMN hash', /must be owner of table ledger_heads/],
      ['DROP TABLE act.ledger_entries', /must be owner of table ledger_entries/],
    ] as const;
    for (const [query, refusal] of attempts) await expect(asService(query)).rejects.toThrow(refusal);
    expect(await asService('SELECT current_user AS role')).toEqual([{ role: 'hms_service' }]);
    expect(await act.call('act.request.verify', { id })).toEqual({ valid: true, entries: 8 });
  });

  const checkpoint = () => act.app.get(LedgerCheckpointJob).tick();

  const storedChain = async (id: string): Promise<ChainEntry[]> =>
    (
      await act.sql<{ seq: number; event_id: string; at: Date; type: string; actor: string; data: unknown; prev_hash: string; hash: string }>(
        'SELECT * FROM act.ledger_entries WHERE request_id = $1 ORDER BY seq',
        [id],
      )
    ).map((r) => ({ requestId: id, seq: r.seq, eventId: r.event_id, at: r.at.toISOString(), type: r.type, actor: r.actor, data: r.data, prevHash: r.prev_hash, hash: r.hash }));

  /** Rewrites a chain from `fromSeq` on with every hash recomputed, and moves the head to match: all an owner of the database can do. */
  const rewrite = async (id: string, fromSeq: number, change: (entry: ChainEntry) => ChainEntry) => {
    const chain = await storedChain(id);
    let previous = chain[fromSeq - 2];
    for (const entry of chain.slice(fromSeq - 1)) {
      const next = chainNext(previous, entry.seq === fromSeq ? change(entry) : entry);
      await tamper('UPDATE act.ledger_entries SET data = $3::jsonb, actor = $4, prev_hash = $5, hash = $6 WHERE request_id = $1 AND seq = $2', [
        id,
        next.seq,
        next.dataJson,
        next.actor,
        next.prevHash,
        next.hash,
      ]);
      previous = next;
    }
    await act.sql('UPDATE act.ledger_heads SET hash = $2 WHERE request_id = $1', [id, previous.hash]);
  };

  it('writes signed checkpoints of the changed heads only, outside the database', async () => {
    const id = await completedVoucher();
    expect(await checkpoint()).toBeGreaterThan(0);
    expect(await checkpoint()).toBe(0);
    const [head] = await act.sql<{ entries: number; checkpointed_entries: number }>('SELECT entries, checkpointed_entries FROM act.ledger_heads WHERE request_id = $1', [id]);
    expect(head).toEqual({ entries: 8, checkpointed_entries: 8 });
    const latest = readFileSync(join(act.checkpointDir, 'latest'), 'utf8').trim();
    const signed = JSON.parse(readFileSync(join(act.checkpointDir, 'checkpoints', latest.padStart(12, '0') + '.json'), 'utf8')) as { keyId: string; signature: string; manifest: { heads: number } };
    expect(signed).toMatchObject({ keyId: expect.stringMatching(/^[0-9a-f]{16}$/), signature: expect.any(String) });
  });

  it('moves a chain head in place (a HOT update, no index entry) and still checkpoints every head that moved', async () => {
    const requestId = randomUUID();
    const event = () => ({ id: randomUUID(), requestId, type: 'oms.task.requeued', at: new Date().toISOString(), actor: 'system:oms', data: {} });
    const updates = await act.app.get(DataSource).transaction(async (tx) => {
      // The backend's counts not yet reported (exact, unlike the shared statistics), before and after.
      const counts = async () =>
        ((await tx.query(`SELECT n_tup_ins::int AS ins, n_tup_upd::int AS upd, n_tup_hot_upd::int AS hot FROM pg_stat_xact_user_tables WHERE relid = 'act.ledger_heads'::regclass`)) as Array<{ ins: number; upd: number; hot: number }>)[0];
      const before = await counts();
      await appendLedgerEntries(tx, [event(), event()]);
      await appendLedgerEntries(tx, [event()]);
      await appendLedgerEntries(tx, [event()]);
      const after = await counts();
      return { inserted: after.ins - before.ins, updated: after.upd - before.upd, hot: after.hot - before.hot };
    });
    expect(updates).toEqual({ inserted: 1, updated: 2, hot: 2 });
    const head = async () => (await act.sql<{ entries: number; checkpointed_entries: number; unchecked: boolean }>('SELECT entries, checkpointed_entries, unchecked FROM act.ledger_heads WHERE request_id = $1', [requestId]))[0];
    expect(await head()).toEqual({ entries: 4, checkpointed_entries: 0, unchecked: true });
    expect(await checkpoint()).toBeGreaterThan(0);
    expect(await head()).toEqual({ entries: 4, checkpointed_entries: 4, unchecked: false });
    await appendAlone(event());
    expect(await head()).toEqual({ entries: 5, checkpointed_entries: 4, unchecked: true });
    expect(await checkpoint()).toBeGreaterThan(0);
    expect(await head()).toEqual({ entries: 5, checkpointed_entries: 5, unchecked: false });
    // The flag cannot drift from the counts it stands for: the checkpoint finds heads by it alone.
    await expect(act.sql('UPDATE act.ledger_heads SET entries = 6 WHERE request_id = $1', [requestId])).rejects.toThrow(/ledger_heads_unchecked_check/);
  });

  it('skips its turn while another replica is writing a checkpoint', async () => {
    await completedVoucher();
    await checkpoint();
    await completedVoucher();
    const before = readFileSync(join(act.checkpointDir, 'latest'), 'utf8');
    await act.sql('BEGIN');
    try {
      await act.sql(`SELECT pg_advisory_xact_lock(hashtext('act.ledger-checkpoint'))`);
      expect(await checkpoint()).toBe(0);
      expect(readFileSync(join(act.checkpointDir, 'latest'), 'utf8')).toBe(before);
    } finally {
      await act.sql('COMMIT');
    }
    expect(await checkpoint()).toBeGreaterThan(0);
    expect(Number(readFileSync(join(act.checkpointDir, 'latest'), 'utf8'))).toBe(Number(before) + 1);
  });

  it('names an entry rewritten with every later hash recomputed and the head moved, by the checkpoint', async () => {
    const id = await completedVoucher();
    await checkpoint();
    await rewrite(id, 3, (entry) => ({ ...entry, data: { ...(entry.data as object), worker: 'mallory' } }));
    const result = await act.call('act.request.verify', { id });
    expect(result).toMatchObject({ valid: false, entries: 8, brokenAt: { seq: 8 } });
    expect(result.reason).toMatch(/^entry 8 is not the one checkpoint \d+ \(.+\) signed: an entry up to 8 was rewritten and the hashes after it recomputed/);
  });

  it('finds a deleted tail even when the head was moved back with it, by the checkpoint', async () => {
    const id = await completedVoucher();
    await checkpoint();
    const chain = await storedChain(id);
    await tamper('DELETE FROM act.ledger_entries WHERE request_id = $1 AND seq > 5', [id]);
    await act.sql('UPDATE act.ledger_heads SET entries = 5, hash = $2, checkpointed_entries = 5 WHERE request_id = $1', [id, chain[4].hash]);
    const result = await act.call('act.request.verify', { id });
    expect(result).toMatchObject({ valid: false, entries: 5, brokenAt: { seq: 6 } });
    expect(result.reason).toMatch(/^entries 6–8 are missing: checkpoint \d+ \(.+\) signed 8 entries$/);
  });

  it('finds a tail deleted since the latest checkpoint, by the head', async () => {
    const id = await completedVoucher();
    await tamper('DELETE FROM act.ledger_entries WHERE request_id = $1 AND seq = 8', [id]);
    expect(await act.call('act.request.verify', { id })).toMatchObject({ valid: false, entries: 7, reason: 'entry 8 is missing: the chain head records 8 entries' });
  });

  it('finds a forged entry appended with a correct link by the service role, by the head', async () => {
    const id = await completedVoucher();
    const [last] = (await storedChain(id)).slice(-1);
    const forged = chainNext(last, { requestId: id, eventId: randomUUID(), at: new Date().toISOString(), type: 'act.request.completed', actor: 'system:act', data: { approved: 5000 } });
    await appendForged(asService, id, forged);
    expect(await act.call('act.request.verify', { id })).toMatchObject({
      valid: false,
      entries: 9,
      brokenAt: { seq: 9, reason: 'entry 9 is beyond the chain head (8 entries): it was appended around the ledger' },
    });
  });

  it('finds a forged tail in place of the signed one, by the checkpoint', async () => {
    const id = await completedVoucher();
    await checkpoint();
    await tamper('DELETE FROM act.ledger_entries WHERE request_id = $1 AND seq = 8', [id]);
    const [last] = (await storedChain(id)).slice(-1);
    const forged = chainNext(last, { requestId: id, eventId: randomUUID(), at: new Date().toISOString(), type: 'act.request.rejected', actor: 'system:act', data: {} });
    await appendForged((query, params) => act.sql(query, params), id, forged);
    await act.sql('UPDATE act.ledger_heads SET hash = $2 WHERE request_id = $1', [id, forged.hash]);
    expect(await act.call('act.request.verify', { id })).toMatchObject({ valid: false, entries: 8, brokenAt: { seq: 8 } });
  });

  it('refuses a checkpoint its keys did not sign', async () => {
    const id = await completedVoucher();
    await checkpoint();
    const latestFile = join(act.checkpointDir, 'latest');
    const latest = Number(readFileSync(latestFile, 'utf8'));
    const genuine = JSON.parse(readFileSync(join(act.checkpointDir, 'checkpoints', `${String(latest).padStart(12, '0')}.json`), 'utf8')) as SignedCheckpoint;
    const forger = new CheckpointSigner(generateKeyPairSync('ed25519').privateKey);
    writeFileSync(join(act.checkpointDir, 'checkpoints', `${String(latest + 1).padStart(12, '0')}.json`), JSON.stringify(forger.sign({ ...genuine.manifest, checkpoint: latest + 1, shards: {} })));
    writeFileSync(latestFile, `${latest + 1}\n`);
    try {
      expect(await act.call('act.request.verify', { id })).toEqual({
        valid: false,
        entries: 8,
        reason: `the latest checkpoint cannot be trusted: checkpoint ${latest + 1} is signed by key ${forger.keyId}, which is not trusted`,
      });
    } finally {
      writeFileSync(latestFile, `${latest}\n`);
    }
  });

  it('records a large payload as its digest, so it can be erased from the request with the chain intact', async () => {
    const payload = { household: 2, scannedLease: 'x'.repeat(6000) };
    const { request } = await act.call('act.request.create', { plan: 'disaster_voucher', payload });
    const entries = await historyOfLength(request.id, 2);
    expect(entries[1].data).toMatchObject({ stepId: 'verify_income', payload: { digest: `sha256:${sha256Hex(canonicalJson(payload))}`, bytes: canonicalJson(payload).length } });
    expect(JSON.stringify(entries)).not.toContain('xxxxxxxx');
    await act.sql(`UPDATE act.requests SET payload = '{"erased": true}' WHERE id = $1`, [request.id]);
    expect(await act.call('act.request.verify', { id: request.id })).toEqual({ valid: true, entries: 2 });
  });

  it('answers NOT_FOUND for the history of an unknown request', async () => {
    expect((await rpcError(act.call('act.request.history', { id: randomUUID() }))).code).toBe('NOT_FOUND');
    expect((await rpcError(act.call('act.request.verify', { id: randomUUID() }))).code).toBe('NOT_FOUND');
    expect((await rpcError(act.call('act.request.verify', { id: 'nope' }))).code).toBe('NOT_FOUND');
  });
});
