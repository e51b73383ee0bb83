import { preparedQuery } from '@hms/platform';
import type { EntityManager } from 'typeorm';
import { chainNext, type ChainEntry, type LinkedEntry } from './hash-chain';

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

/*
 * Locking: a transaction-scoped advisory lock per request id serializes appends to one chain
 * across consumers and replicas. Without it two appends could read the same last entry and both
 * link to it. An advisory lock rather than a locked "head" row needs no extra row per request
 * (the first append of a request has nothing to lock yet) and is released with the transaction.
 * The two-key form keeps this lock apart from the one-key locks others take (migrations);
 * requests whose ids hash alike merely wait for each other. The locks are taken in request-id
 * order (the subquery sorts before the volatile lock call runs), so two batches cannot deadlock.
 */
const LOCK_CHAINS_SQL = `
SELECT pg_advisory_xact_lock(hashtext('act.ledger'), hashtext(id::text))
FROM (SELECT DISTINCT id FROM unnest($1::uuid[]) AS r(id) ORDER BY id) AS sorted`;

/**
 * In one round trip, after the locks: the events already recorded (redeliveries, by the unique
 * index on event_id), and each chain's head, from `ledger_heads` (its primary key) rather than
 * the last entry: an entry slipped in around the ledger then collides with the next append's seq
 * (the append fails loudly) instead of being linked to and so vouched for. (Not in the locking
 * statement: its snapshot would predate the appends it waited for.)
 */
const RECORDED_AND_HEADS_SQL = `
SELECT 'recorded' AS "kind", "event_id"::text AS "id", NULL::int AS "seq", NULL::text AS "hash" FROM "act"."ledger_entries" WHERE "event_id" = ANY($1::uuid[])
UNION ALL
SELECT 'head', "request_id"::text, "entries", "hash" FROM "act"."ledger_heads" WHERE "request_id" = ANY($2::uuid[])`;

/*
 * The new entries come as one JSON array of rows rather than an array parameter per column: a
 * text or jsonb array is escaped element by element in Node and parsed again by Postgres's
 * array_in, while JSON.stringify is native and each entry's data goes in as the canonical JSON
 * text it was hashed over (docs/performance.md has the figures). The same statement moves each
 * chain's head to its last entry inserted, set-based, so the head can never lag its entries and
 * the hot path keeps its statement count.
 *
 * A head is moved by a plain UPDATE when the chain had one (its first entry inserted here is not
 * seq 1) and started by a plain INSERT otherwise, not by an upsert: under the chain's lock the
 * head read before is still the head, and an upsert would lock each row it updates (a WAL record
 * of its own) and insert new heads speculatively (another). The UPDATE changes no indexed column
 * (the checkpoint's index reads the flag `unchecked`, already true after the head's first move),
 * so it is HOT: one WAL record per head instead of four. A head inserted around the ledger makes
 * the INSERT fail loudly, as the upsert's seq collision did.
 *
 * The entries are inserted plainly too, not `ON CONFLICT (event_id) DO NOTHING`: the repeats were
 * found after the chains' locks, so only an event id being recorded at this moment under another
 * request can collide, and then the unique index fails the statement (the batch is retried one
 * event at a time and the event, redelivered, is found recorded). The speculative insert cost a
 * WAL record and an index probe per entry on every append.
 */
const INSERT_ENTRIES_SQL = `
WITH "inserted" AS (
  INSERT INTO "act"."ledger_entries" ("request_id", "seq", "event_id", "at", "type", "actor", "data", "prev_hash", "hash")
  SELECT * FROM jsonb_to_recordset($1::jsonb)
    AS e("request_id" uuid, "seq" int, "event_id" uuid, "at" timestamptz, "type" text, "actor" text, "data" jsonb, "prev_hash" text, "hash" text)
  RETURNING "request_id", "seq", "hash"
), "last" AS (
  SELECT DISTINCT ON ("request_id") "request_id", "seq", "hash", min("seq") OVER (PARTITION BY "request_id") AS "first"
  FROM "inserted" ORDER BY "request_id", "seq" DESC
), "moved" AS (
  UPDATE "act"."ledger_heads" AS h SET "entries" = l."seq", "hash" = l."hash", "unchecked" = l."seq" <> h."checkpointed_entries"
  FROM "last" AS l WHERE h."request_id" = l."request_id" AND l."first" > 1
), "started" AS (
  INSERT INTO "act"."ledger_heads" ("request_id", "entries", "hash", "unchecked")
  SELECT "request_id", "seq", "hash", true FROM "last" WHERE "first" = 1
)
SELECT count(*)::int AS "entries" FROM "inserted"`;

/** The rows of {@link INSERT_ENTRIES_SQL}, each entry's data embedded as its canonical JSON. */
function entryRowsJson(entries: LinkedEntry[]): string {
  let json = '[';
  for (const e of entries) {
    json += `${json.length > 1 ? ',' : ''}{"request_id":${JSON.stringify(e.requestId)},"seq":${e.seq},"event_id":${JSON.stringify(e.eventId)},"at":${JSON.stringify(e.at)},"type":${JSON.stringify(e.type)},"actor":${JSON.stringify(e.actor)},"data":${e.dataJson},"prev_hash":${JSON.stringify(e.prevHash)},"hash":${JSON.stringify(e.hash)}}`;
  }
  return `${json}]`;
}

/**
 * Appends events to their requests' hash chains, each at most once, in the given order within
 * each request. Returns, per event, its entry, or null when it was already recorded (a
 * redelivery). A constant number of statements per call, whatever the number of events: lock the
 * chains; find the ones already recorded and read the chain heads (one statement); insert all new
 * entries and move the heads.
 */
export async function appendLedgerEntries(tx: EntityManager, events: LedgerEvent[]): Promise<Array<ChainEntry | null>> {
  if (events.length === 0) return [];
  const requestIds = [...new Set(events.map((e) => e.requestId))];
  await preparedQuery(tx, 'act_ledger_lock_chains', LOCK_CHAINS_SQL, [requestIds]);
  const recorded = new Set<string>();
  const heads = new Map<string, { seq: number; hash: string }>();
  const rows = await preparedQuery<{ kind: 'recorded' | 'head'; id: string; seq: number; hash: string }>(tx, 'act_ledger_recorded_and_heads', RECORDED_AND_HEADS_SQL, [events.map((e) => e.id), requestIds]);
  for (const row of rows) {
    if (row.kind === 'recorded') recorded.add(row.id);
    else heads.set(row.id, { seq: row.seq, hash: row.hash });
  }
  // Postgres stores and answers uuids in lower case; an event may spell its ids in upper case. A
  // repeat missed here would fail the insert on the unique index rather than be skipped, and an
  // entry hashed over other spellings than the stored ones would not verify.
  const entries = events.map((event): LinkedEntry | null => {
    const eventId = event.id.toLowerCase();
    const requestId = event.requestId.toLowerCase();
    if (recorded.has(eventId)) return null;
    recorded.add(eventId); // the same event twice in one batch is recorded once
    const entry = chainNext(heads.get(requestId), {
      requestId,
      eventId,
      at: new Date(event.at).toISOString(),
      type: event.type,
      actor: event.actor,
      data: event.data ?? {},
    });
    heads.set(requestId, entry);
    return entry;
  });
  const fresh = entries.filter((e): e is LinkedEntry => e !== null);
  if (fresh.length === 0) return entries;
  await preparedQuery(tx, 'act_ledger_insert', INSERT_ENTRIES_SQL, [entryRowsJson(fresh)]);
  return entries;
}
