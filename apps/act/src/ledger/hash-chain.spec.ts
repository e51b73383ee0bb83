import { canonicalJson, sha256Hex } from '../common/canonical-json';
import { chainNext, entryCanonicalJson, entryHash, GENESIS_HASH, recordedData, verifyChain, type LinkedEntry } from './hash-chain';

const requestId = '8d0f3c52-6a4e-4a53-9d0e-2c1c7f1b2a10';

function aChain(length: number): LinkedEntry[] {
  const entries: LinkedEntry[] = [];
  for (let i = 0; i < length; i++) {
    entries.push(
      chainNext(entries.at(-1), {
        requestId,
        eventId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
        at: new Date(Date.UTC(2026, 10, 20, 12, 0, i)).toISOString(),
        type: i === 0 ? 'act.request.created' : 'oms.task.completed',
        actor: i === 0 ? 'service@hms' : 'worker@hms',
        data: { n: i, nested: { b: 2, a: 1 } },
      }),
    );
  }
  return entries;
}

describe('entryHash', () => {
  it('is the sha-256 of the canonical JSON of the entry content and the previous hash', () => {
    const [first] = aChain(1);
    const { hash: _hash, dataJson: _dataJson, ...content } = first;
    expect(first.hash).toBe(sha256Hex(canonicalJson(content)));
    expect(first.hash).toBe(entryHash({ ...content, data: { nested: { a: 1, b: 2 }, n: 0 } }));
  });

  it.each(['requestId', 'seq', 'eventId', 'at', 'type', 'actor', 'data', 'prevHash'] as const)('changes when %s changes', (field) => {
    const [first] = aChain(1);
    const changed = { ...first, [field]: field === 'seq' ? 2 : field === 'data' ? { n: 1 } : `${String(first[field])}x` };
    expect(entryHash(changed)).not.toBe(first.hash);
  });
});

describe('entryCanonicalJson', () => {
  it.each([
    ['nested objects with unsorted keys', { z: 1, a: { d: [1, { y: 2, x: 1 }], c: null } }],
    ['strings that need escaping', { 'quote"key': 'line\nbreak \\ "quoted" \u0001 é 𝄞', '': '' }],
    ['numbers', { big: 1e21, small: 5e-7, negative: -0.5, zero: -0 }],
    ['an array at the top', [1, 'two', { three: 3 }]],
    ['an empty object', {}],
  ])('writes what canonicalJson writes, for %s', (_label, data) => {
    const content = { requestId, seq: 12, eventId: '00000000-0000-4000-8000-000000000001', at: '2026-11-20T12:00:00.000Z', type: 'oms.task.completed', actor: 'worker "a"', data, prevHash: GENESIS_HASH };
    expect(entryCanonicalJson(content, canonicalJson(data))).toBe(canonicalJson(content));
  });
});

describe('chainNext', () => {
  it('hashes data as the stored JSON will give it back, even when JSON cannot hold it as given', () => {
    const data = { when: new Date(Date.UTC(2026, 10, 20)), gone: undefined, list: [undefined, NaN, 1] };
    const entry = chainNext(undefined, { requestId, eventId: '00000000-0000-4000-8000-000000000002', at: '2026-11-20T12:00:00.000Z', type: 't', actor: 'a', data });
    const stored = JSON.parse(JSON.stringify(data)) as unknown;
    expect(entry.dataJson).toBe(canonicalJson(stored));
    expect(entry.hash).toBe(entryHash({ ...entry, data: stored }));
  });

  it('starts at seq 1 from the genesis hash and links each entry to the previous', () => {
    const chain = aChain(3);
    expect(chain.map((entry) => entry.seq)).toEqual([1, 2, 3]);
    expect(chain[0].prevHash).toBe(GENESIS_HASH);
    expect(chain[1].prevHash).toBe(chain[0].hash);
    expect(chain[2].prevHash).toBe(chain[1].hash);
  });
});

describe('verifyChain', () => {
  it('accepts an intact chain and an empty one', () => {
    expect(verifyChain(aChain(5))).toEqual({ valid: true, entries: 5 });
    expect(verifyChain([])).toEqual({ valid: true, entries: 0 });
  });

  it('finds altered data at its entry', () => {
    const chain = aChain(5);
    chain[2] = { ...chain[2], data: { n: 999, nested: { a: 1, b: 2 } } };
    expect(verifyChain(chain)).toEqual({
      valid: false,
      entries: 5,
      brokenAt: { seq: 3, reason: 'hash does not match the entry content: the entry was altered' },
      reason: 'hash does not match the entry content: the entry was altered',
    });
  });

  it('finds an altered actor, type or time', () => {
    for (const change of [{ actor: 'mallory' }, { type: 'act.request.completed' }, { at: '2020-01-01T00:00:00.000Z' }]) {
      const chain = aChain(3);
      chain[1] = { ...chain[1], ...change };
      expect(verifyChain(chain).brokenAt?.seq).toBe(2);
    }
  });

  it('finds an altered entry whose own hash was recomputed, at the entry after it', () => {
    const chain = aChain(4);
    const { hash: _hash, ...content } = chain[1];
    const forged = { ...content, data: { n: -1 } };
    chain[1] = { ...forged, hash: entryHash(forged) };
    expect(verifyChain(chain).brokenAt).toEqual({ seq: 3, reason: 'prevHash is not the hash of entry 2: an entry before it was removed, reordered or rewritten' });
  });

  it('finds a removed entry', () => {
    const chain = aChain(5);
    chain.splice(2, 1);
    expect(verifyChain(chain)).toMatchObject({ valid: false, entries: 4, brokenAt: { seq: 3, reason: 'entry 3 is missing (the next entry is 4)' } });
  });

  it('finds several removed entries and a removed first entry', () => {
    const chain = aChain(6);
    expect(verifyChain([chain[0], chain[4], chain[5]]).brokenAt).toEqual({ seq: 2, reason: 'entries 2–4 are missing (the next entry is 5)' });
    expect(verifyChain(chain.slice(1)).brokenAt?.seq).toBe(1);
  });

  it('finds a removed entry whose successors were renumbered', () => {
    const chain = aChain(4);
    const renumbered = [chain[0], { ...chain[2], seq: 2 }, { ...chain[3], seq: 3 }];
    expect(verifyChain(renumbered).brokenAt).toEqual({ seq: 2, reason: expect.stringMatching(/^prevHash is not the hash of entry 1/) });
  });

  it('finds reordered entries', () => {
    const chain = aChain(4);
    const swapped = [chain[0], { ...chain[2], seq: 2 }, { ...chain[1], seq: 3 }, chain[3]];
    expect(verifyChain(swapped).brokenAt?.seq).toBe(2);
  });

  it('finds a chain that does not start from the genesis hash', () => {
    const chain = aChain(2);
    chain[0] = { ...chain[0], prevHash: 'f'.repeat(64) };
    expect(verifyChain(chain).brokenAt).toEqual({ seq: 1, reason: expect.stringMatching(/^prevHash is not the genesis hash/) });
  });
});

describe('verifyChain against the heads kept outside the entries', () => {
  const headOf = (chain: LinkedEntry[]) => ({ entries: chain.length, hash: chain.at(-1)!.hash });
  const signed = (chain: LinkedEntry[]) => ({ ...headOf(chain), checkpoint: 7, at: '2026-11-20T12:00:00.000Z' });

  it('accepts a chain that ends at its head and extends its checkpoint', () => {
    const chain = aChain(6);
    expect(verifyChain(chain, { head: headOf(chain), checkpoint: signed(chain.slice(0, 4)) })).toEqual({ valid: true, entries: 6 });
  });

  it('names an entry rewritten with every later hash recomputed, by the checkpoint', () => {
    const chain = aChain(6);
    const rewritten = [...chain.slice(0, 2)];
    for (const entry of chain.slice(2)) {
      rewritten.push(chainNext(rewritten.at(-1), { ...entry, data: entry.seq === 3 ? { n: -1 } : entry.data }));
    }
    const result = verifyChain(rewritten, { head: headOf(rewritten), checkpoint: signed(chain.slice(0, 5)) });
    expect(result).toMatchObject({ valid: false, brokenAt: { seq: 5 } });
    expect(result.reason).toMatch(/^entry 5 is not the one checkpoint 7 \(2026-11-20T12:00:00.000Z\) signed: an entry up to 5 was rewritten/);
  });

  it('finds a tail deleted before the checkpoint, even with the head moved back', () => {
    const chain = aChain(6);
    const kept = chain.slice(0, 3);
    expect(verifyChain(kept, { head: headOf(kept), checkpoint: signed(chain.slice(0, 5)) })).toMatchObject({
      valid: false,
      entries: 3,
      brokenAt: { seq: 4, reason: 'entries 4–5 are missing: checkpoint 7 (2026-11-20T12:00:00.000Z) signed 5 entries' },
    });
  });

  it('finds a tail deleted since the checkpoint, by the head', () => {
    const chain = aChain(6);
    expect(verifyChain(chain.slice(0, 5), { head: headOf(chain), checkpoint: signed(chain.slice(0, 2)) }).brokenAt).toEqual({
      seq: 6,
      reason: 'entry 6 is missing: the chain head records 6 entries',
    });
  });

  it('finds entries appended around the ledger, by the head', () => {
    const chain = aChain(6);
    expect(verifyChain(chain, { head: headOf(chain.slice(0, 4)) }).brokenAt).toEqual({
      seq: 5,
      reason: 'entry 5 is beyond the chain head (4 entries): it was appended around the ledger',
    });
  });

  it('finds a last entry that is not the head', () => {
    const chain = aChain(3);
    expect(verifyChain(chain, { head: { entries: 3, hash: 'e'.repeat(64) } }).brokenAt?.seq).toBe(3);
  });

  it('finds a chain with entries where the head says none', () => {
    expect(verifyChain(aChain(1), { head: { entries: 0, hash: GENESIS_HASH } }).brokenAt?.seq).toBe(1);
  });
});

describe('recordedData', () => {
  const big = 'x'.repeat(5000);

  it('keeps a value larger than the inline limit as the digest of its canonical JSON, and the rest as given', () => {
    const entry = chainNext(undefined, { requestId, eventId: '00000000-0000-4000-8000-000000000003', at: '2026-11-20T12:00:00.000Z', type: 't', actor: 'a', data: { stepId: 'scan', payload: { scan: big } } });
    const payloadJson = canonicalJson({ scan: big });
    expect(entry.data).toEqual({ stepId: 'scan', payload: { digest: `sha256:${sha256Hex(payloadJson)}`, bytes: payloadJson.length } });
    expect(entry.dataJson).toBe(canonicalJson(entry.data));
    expect(entry.hash).toBe(entryHash(entry));
  });

  it('counts bytes of UTF-8, not characters', () => {
    const text = 'é'.repeat(2100); // 2,100 characters, 4,200 bytes
    expect(recordedData({ text }, canonicalJson({ text })).data).toEqual({ text: { digest: expect.stringMatching(/^sha256:/), bytes: 4202 } });
    expect(recordedData({ text: 'é'.repeat(1000) }, canonicalJson({ text: 'é'.repeat(1000) })).data).toEqual({ text: 'é'.repeat(1000) });
  });

  it('digests the whole data when it is not an object', () => {
    const data = [big];
    expect(recordedData(data, canonicalJson(data)).data).toEqual({ digest: `sha256:${sha256Hex(canonicalJson(data))}`, bytes: 5004 });
  });

  it('passes small data through untouched', () => {
    const data = { n: 1 };
    expect(recordedData(data, '{"n":1}').data).toBe(data);
  });
});
