import type { EntityManager } from 'typeorm';
import { chainNext, type ChainEntry } from './hash-chain';

/** What the ledger records of an event. */
export interface LedgerEvent {
  id: string;
  requestId: string;
  type: string;
  /** ISO-8601; stored (and hashed) normalised to milliseconds UTC so it reads back identically. */
  at: string;
  actor: string;
  data: unknown;
}

/**
 * Appends one event to its request's hash chain, at most once. Returns the entry, or null when
 * the event was already recorded (a redelivery).
 *
 * Locking: a transaction-scoped advisory lock per request id serializes appends to one chain
 * across consumers and replicas. Without it two appends could read the same last entry and both
 * link to it. An advisory lock rather than a locked "head" row needs no extra row per request
 * (the first append of a request has nothing to lock yet) and is released with the transaction.
 * The two-key form keeps this lock apart from the one-key locks others take (migrations);
 * requests whose ids hash alike merely wait for each other.
 *
 * Indexes: "last entry" is a one-row backward scan of the primary key (request_id, seq); the
 * duplicate check uses the unique index on event_id (which also backs ON CONFLICT, in case an
 * event were ever recorded under another request id).
 */
export async function appendLedgerEntry(tx: EntityManager, event: LedgerEvent): Promise<ChainEntry | null> {
  await tx.query('SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))', ['act.ledger', event.requestId]);
  const seen: unknown[] = await tx.query('SELECT 1 FROM "act"."ledger_entries" WHERE "event_id" = $1', [event.id]);
  if (seen.length > 0) return null;
  const [last]: Array<{ seq: number; hash: string }> = await tx.query(
    'SELECT "seq", "hash" FROM "act"."ledger_entries" WHERE "request_id" = $1 ORDER BY "seq" DESC LIMIT 1',
    [event.requestId],
  );
  // Hash exactly what jsonb will give back: a JSON round trip drops undefined and normalises numbers.
  const data = JSON.parse(JSON.stringify(event.data ?? {})) as unknown;
  const entry = chainNext(last, {
    requestId: event.requestId,
    eventId: event.id,
    at: new Date(event.at).toISOString(),
    type: event.type,
    actor: event.actor,
    data,
  });
  const inserted: unknown[] = await tx.query(
    `INSERT INTO "act"."ledger_entries" ("request_id", "seq", "event_id", "at", "type", "actor", "data", "prev_hash", "hash")
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9)
     ON CONFLICT ON CONSTRAINT "ledger_entries_event_id_key" DO NOTHING
     RETURNING "seq"`,
    [entry.requestId, entry.seq, entry.eventId, entry.at, entry.type, entry.actor, JSON.stringify(entry.data), entry.prevHash, entry.hash],
  );
  return inserted.length > 0 ? entry : null;
}
