import type { HistoryVerifyResult } from '@hms/contracts';
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

/**
 * The next entry of a chain whose last entry is `previous` (undefined for the first). `data` is
 * taken as JSON gives it back (as the stored jsonb will): a value JSON cannot hold exactly
 * (undefined in an array, NaN, a Date) is first put through a JSON round trip.
 */
export function chainNext(previous: Pick<ChainEntry, 'seq' | 'hash'> | undefined, content: Omit<ChainEntryContent, 'seq' | 'prevHash'>): LinkedEntry {
  let data = content.data;
  let dataJson: string;
  try {
    dataJson = canonicalJson(data);
  } catch {
    data = JSON.parse(JSON.stringify(data ?? null)) as unknown;
    dataJson = canonicalJson(data);
  }
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

/**
 * Re-checks a chain entry by entry (in seq order), so a long history can be fed in pages. Reports
 * the first entry that breaks it: a missing seq, a link (`prevHash`) that is not the previous
 * entry's hash, or a hash that does not match the entry's content.
 */
export class ChainVerifier {
  private previous?: ChainEntry;
  private count = 0;
  private broken?: { seq: number; reason: string };

  /** Feeds the next entry; returns false once the chain is known to be broken. */
  push(entry: ChainEntry): boolean {
    this.count += 1;
    if (this.broken) return false;
    this.broken = this.check(entry);
    this.previous = entry;
    return !this.broken;
  }

  private check(entry: ChainEntry): { seq: number; reason: string } | undefined {
    const expectedSeq = (this.previous?.seq ?? 0) + 1;
    if (entry.seq > expectedSeq) {
      const missing = entry.seq - expectedSeq === 1 ? `entry ${expectedSeq} is missing` : `entries ${expectedSeq}–${entry.seq - 1} are missing`;
      return { seq: expectedSeq, reason: `${missing} (the next entry is ${entry.seq})` };
    }
    if (entry.seq < expectedSeq) return { seq: entry.seq, reason: `entry ${entry.seq} is out of order (expected ${expectedSeq})` };
    const expectedPrev = this.previous?.hash ?? GENESIS_HASH;
    if (entry.prevHash !== expectedPrev) {
      const of = this.previous ? `the hash of entry ${this.previous.seq}` : 'the genesis hash';
      return { seq: entry.seq, reason: `prevHash is not ${of}: an entry before it was removed, reordered or rewritten` };
    }
    if (entryHash(entry) !== entry.hash) return { seq: entry.seq, reason: 'hash does not match the entry content: the entry was altered' };
    return undefined;
  }

  result(): HistoryVerifyResult {
    return this.broken ? { valid: false, entries: this.count, brokenAt: this.broken } : { valid: true, entries: this.count };
  }
}

/** Verifies a whole chain given in seq order. */
export function verifyChain(entries: Iterable<ChainEntry>): HistoryVerifyResult {
  const verifier = new ChainVerifier();
  for (const entry of entries) verifier.push(entry);
  return verifier.result();
}
