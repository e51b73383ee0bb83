import { FixedLimits, type HistoryVerifyResult } from '@hms/contracts';
import { canonicalJson, sha256Hex } from '../common/canonical-json';

/** The `prevHash` of a request's first entry. */
export const GENESIS_HASH = '0'.repeat(64);

/** The hashed content of one ledger entry. */
export interface ChainEntryContent {
  requestId: string;
  seq: number;
  eventId: string;
  /** ISO-8601 with milliseconds, exactly as stored. */
  at: string;
  type: string;
  actor: string;
  data: unknown;
  prevHash: string;
}

/** A stored ledger entry. */
export interface ChainEntry extends ChainEntryContent {
  hash: string;
}

/**
 * sha-256 of the canonical JSON of the entry with its predecessor's hash. Because each hash covers
 * the previous one, changing, removing or reordering any entry breaks every link after it.
 */
export function entryHash(entry: ChainEntryContent): string {
  return sha256Hex(entryCanonicalJson(entry, canonicalJson(entry.data)));
}

/**
 * `canonicalJson` of the entry content, given its data's canonical JSON: appending hashes every
 * event on ACT's busiest path, and the data's text is also what it stores, so it is made once.
 * The keys are written in canonicalJson's (sorted) order; hash-chain.spec.ts holds the two equal.
 */
export function entryCanonicalJson(entry: Omit<ChainEntryContent, 'data'>, dataJson: string): string {
  const { actor, at, eventId, prevHash, requestId, seq, type } = entry;
  return `{"actor":${JSON.stringify(actor)},"at":${JSON.stringify(at)},"data":${dataJson},"eventId":${JSON.stringify(eventId)},"prevHash":${JSON.stringify(prevHash)},"requestId":${JSON.stringify(requestId)},"seq":${canonicalJson(seq)},"type":${JSON.stringify(type)}}`;
}

/** A new entry, with its data's canonical JSON (the text the ledger stores). */
export interface LinkedEntry extends ChainEntry {
  dataJson: string;
}

/** What the ledger keeps of a value too large to copy: the sha-256 of its canonical JSON, and its size. */
export interface ValueDigest {
  digest: string;
  bytes: number;
}

function utf8Bytes(json: string): number {
  // A UTF-16 unit is at most 3 bytes of UTF-8: most texts are decided without counting.
  return json.length * 3 <= FixedLimits.ledgerInlineValueBytes ? json.length : Buffer.byteLength(json);
}

/**
 * The data an entry records: each top-level value (or the whole data, when it is not an object)
 * larger than {@link FixedLimits.ledgerInlineValueBytes} replaced by its {@link ValueDigest}.
 * Returns the data and its canonical JSON; small data, the usual case, passes through as given.
 */
export function recordedData(data: unknown, dataJson: string): { data: unknown; dataJson: string } {
  const limit = FixedLimits.ledgerInlineValueBytes;
  if (utf8Bytes(dataJson) <= limit) return { data, dataJson };
  const digestOf = (json: string): ValueDigest => ({ digest: `sha256:${sha256Hex(json)}`, bytes: Buffer.byteLength(json) });
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    const digest = digestOf(dataJson);
    return { data: digest, dataJson: canonicalJson(digest) };
  }
  const recorded: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data)) {
    const json = canonicalJson(value);
    recorded[key] = utf8Bytes(json) > limit ? digestOf(json) : value;
  }
  return { data: recorded, dataJson: canonicalJson(recorded) };
}

/**
 * The next entry of a chain whose last entry is `previous` (undefined for the first). `data` is
 * taken as JSON gives it back (as the stored jsonb will): a value JSON cannot hold exactly
 * (undefined in an array, NaN, a Date) is first put through a JSON round trip. Values too large
 * to copy are recorded as their digests ({@link recordedData}).
 */
export function chainNext(previous: Pick<ChainEntry, 'seq' | 'hash'> | undefined, content: Omit<ChainEntryContent, 'seq' | 'prevHash'>): LinkedEntry {
  let given = content.data;
  let givenJson: string;
  try {
    givenJson = canonicalJson(given);
  } catch {
    given = JSON.parse(JSON.stringify(given ?? null)) as unknown;
    givenJson = canonicalJson(given);
  }
  const { data, dataJson } = recordedData(given, givenJson);
  const linked: ChainEntryContent = {
    requestId: content.requestId,
    seq: (previous?.seq ?? 0) + 1,
    eventId: content.eventId,
    at: content.at,
    type: content.type,
    actor: content.actor,
    data,
    prevHash: previous?.hash ?? GENESIS_HASH,
  };
  return { ...linked, hash: sha256Hex(entryCanonicalJson(linked, dataJson)), dataJson };
}

/** A chain head recorded outside the entries: how many entries, and the hash of the last. */
export interface ChainHead {
  entries: number;
  hash: string;
}

/** What a request's chain must end with, from outside its entries. */
export interface ChainExpectations {
  /** The request's row of `ledger_heads` (`{entries: 0}` when it has none). */
  head?: ChainHead;
  /** The request's head in the latest signed checkpoint that holds it. */
  checkpoint?: ChainHead & { checkpoint: number; at: string };
}

interface Break {
  seq: number;
  reason: string;
}

function missing(from: number, to: number): string {
  return from === to ? `entry ${from} is missing` : `entries ${from}–${to} are missing`;
}

/**
 * Re-checks a chain entry by entry (in seq order), so a long history can be fed in pages. Reports
 * the first entry that breaks it: a missing seq, a link (`prevHash`) that is not the previous
 * entry's hash, or a hash that does not match the entry's content. Then holds the chain against
 * the heads recorded outside it: the signed checkpoint finds an entry rewritten with every later
 * hash recomputed, and a tail deleted or replaced; the heads table finds entries appended around
 * the ledger and a tail deleted since the checkpoint.
 */
export class ChainVerifier {
  private previous?: ChainEntry;
  private count = 0;
  private broken?: Break;

  constructor(private readonly expected: ChainExpectations = {}) {}

  /** Feeds the next entry; returns false once the chain is known to be broken. */
  push(entry: ChainEntry): boolean {
    this.count += 1;
    if (this.broken) return false;
    this.broken = this.check(entry);
    this.previous = entry;
    return !this.broken;
  }

  private check(entry: ChainEntry): Break | undefined {
    const expectedSeq = (this.previous?.seq ?? 0) + 1;
    if (entry.seq > expectedSeq) {
      return { seq: expectedSeq, reason: `${missing(expectedSeq, entry.seq - 1)} (the next entry is ${entry.seq})` };
    }
    if (entry.seq < expectedSeq) return { seq: entry.seq, reason: `entry ${entry.seq} is out of order (expected ${expectedSeq})` };
    const expectedPrev = this.previous?.hash ?? GENESIS_HASH;
    if (entry.prevHash !== expectedPrev) {
      const of = this.previous ? `the hash of entry ${this.previous.seq}` : 'the genesis hash';
      return { seq: entry.seq, reason: `prevHash is not ${of}: an entry before it was removed, reordered or rewritten` };
    }
    if (entryHash(entry) !== entry.hash) return { seq: entry.seq, reason: 'hash does not match the entry content: the entry was altered' };
    const checkpoint = this.expected.checkpoint;
    if (checkpoint && entry.seq === checkpoint.entries && entry.hash !== checkpoint.hash) {
      return {
        seq: entry.seq,
        reason: `entry ${entry.seq} is not the one checkpoint ${checkpoint.checkpoint} (${checkpoint.at}) signed: an entry up to ${entry.seq} was rewritten and the hashes after it recomputed, or the tail was replaced`,
      };
    }
    return undefined;
  }

  /** The break found against the heads once every entry was fed. */
  private checkEnd(): Break | undefined {
    const { checkpoint, head } = this.expected;
    if (checkpoint && this.count < checkpoint.entries) {
      return { seq: this.count + 1, reason: `${missing(this.count + 1, checkpoint.entries)}: checkpoint ${checkpoint.checkpoint} (${checkpoint.at}) signed ${checkpoint.entries} entries` };
    }
    if (!head) return undefined;
    if (this.count < head.entries) return { seq: this.count + 1, reason: `${missing(this.count + 1, head.entries)}: the chain head records ${head.entries} entries` };
    if (this.count > head.entries) {
      return { seq: head.entries + 1, reason: `entry ${head.entries + 1} is beyond the chain head (${head.entries} entries): it was appended around the ledger` };
    }
    if (this.previous && this.previous.hash !== head.hash) {
      return { seq: this.previous.seq, reason: `entry ${this.previous.seq} is not the chain head: the chain was rewritten after the head was recorded` };
    }
    return undefined;
  }

  result(): HistoryVerifyResult {
    const broken = this.broken ?? this.checkEnd();
    return broken ? { valid: false, entries: this.count, brokenAt: broken, reason: broken.reason } : { valid: true, entries: this.count };
  }
}

/** Verifies a whole chain given in seq order. */
export function verifyChain(entries: Iterable<ChainEntry>, expected?: ChainExpectations): HistoryVerifyResult {
  const verifier = new ChainVerifier(expected);
  for (const entry of entries) verifier.push(entry);
  return verifier.result();
}
