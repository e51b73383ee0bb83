import { randomUUID } from 'node:crypto';
import { context, propagation } from '@opentelemetry/api';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { EventStream, type EventDataMap, type EventSource, type EventType, type HmsEvent } from '@hms/contracts';
import type { DataSource, EntityManager } from 'typeorm';
import type { Logger } from 'pino';
import type { Clock } from '../clock';
import type { NatsBus } from '../nats/nats-bus';
import { PeriodicJob } from '../bootstrap/periodic-job';
import { preparedQuery } from '../database/prepared-query';
import { encodedHeaderBytes, fitsIn, HEADERS_RESERVE_BYTES, payloadTooLarge } from '../nats/wire-size';
import { MAX_EVENT_MESSAGE_BYTES, packEventMessages, type OutboxRow } from './event-messages';

/**
 * Records an event to be published when the surrounding transaction commits. It continues the
 * trace active when it is emitted, or the one `traceHeaders` names (a set-based handler emitting
 * for each of several events, see ManyEvent).
 */
export type Emit = <T extends EventType>(type: T, requestId: string | null, data: EventDataMap[T], actor: string, traceHeaders?: string | null) => HmsEvent<T>;

const RELAY_BATCH = 500;

/** An event on its way to the outbox, with the trace context that was active when it was emitted. */
export interface PendingEvent {
  event: HmsEvent;
  /** The event serialized once, when it was emitted: measured then, stored as is. */
  json: string;
  traceHeaders: string | null;
}

/** The active trace context as the outbox stores it (JSON of the W3C headers), or null outside a trace. */
export function currentTraceHeaders(): string | null {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return Object.keys(carrier).length > 0 ? JSON.stringify(carrier) : null;
}

/**
 * The transactional outbox of one service: events are inserted in the same transaction as the
 * change they describe, and a relay publishes them to JetStream (with `Nats-Msg-Id` = event id,
 * or first event id and count for a message of several, so a re-publish after a crash is
 * dropped by the stream's de-duplication window).
 */
export class EventOutbox {
  private readonly relay: PeriodicJob;

  constructor(
    private readonly dataSource: DataSource,
    private readonly bus: NatsBus,
    private readonly schema: string,
    private readonly source: EventSource,
    private readonly clock: Clock,
    private readonly logger: Logger,
    pollMs = 250,
  ) {
    this.relay = new PeriodicJob('outbox relay', pollMs, async () => ({ full: (await this.relayBatch()) >= RELAY_BATCH }), logger);
  }

  /**
   * Runs `work` in a transaction; the events it emits are written to the outbox in that same
   * transaction (one multi-row insert) and relayed right after the commit. A transaction that
   * emitted nothing does not wake the relay: most consumer batches (the ledger's, OPS's) emit
   * nothing, and an empty relay run is still two round trips.
   */
  async transaction<T>(work: (tx: EntityManager, emit: Emit) => Promise<T>, existing?: EntityManager): Promise<T> {
    let emitted = 0;
    const run = async (tx: EntityManager): Promise<T> => {
      const { emit, events } = this.collector();
      const result = await work(tx, emit);
      await this.append(tx, events);
      emitted = events.length;
      return result;
    };
    const result = existing ? await run(existing) : await this.dataSource.transaction(run);
    if (emitted > 0) this.kick();
    return result;
  }

  /**
   * An emit function and the events it collects, for {@link append}. Each event keeps the trace
   * context active when it was emitted, so events of a batch handled in one transaction each
   * continue their own trace.
   *
   * An event that could not be published (larger than NATS `max_payload` with its headers) is
   * refused here with PAYLOAD_TOO_LARGE, so the transaction that would create it rolls back and
   * its caller hears 413; in the outbox it would stop the relay, and every event after it.
   */
  collector(): { emit: Emit; events: PendingEvent[] } {
    const events: PendingEvent[] = [];
    const emit: Emit = (type, requestId, data, actor, traceHeaders) => {
      const event = { id: randomUUID(), type, at: this.clock.now().toISOString(), actor, requestId, source: this.source, data };
      const json = JSON.stringify(event);
      const maxPayload = this.bus.maxPayload;
      if (!fitsIn(json, HEADERS_RESERVE_BYTES, maxPayload)) throw payloadTooLarge(`The ${type} event`, Buffer.byteLength(json), maxPayload - HEADERS_RESERVE_BYTES);
      events.push({ event: event as HmsEvent, json, traceHeaders: traceHeaders === undefined ? currentTraceHeaders() : traceHeaders });
      return event;
    };
    return { emit, events };
  }

  /** Inserts events into the outbox inside the caller's transaction (one statement, prepared). */
  async append(tx: EntityManager, events: PendingEvent[]): Promise<void> {
    if (events.length === 0) return;
    const insert = this.insertWithin(events, 1, 'TRUE');
    await preparedQuery(tx, `${this.schema}_outbox_append`, insert.sql, insert.parameters);
  }

  /**
   * The outbox insert as one part of a caller's own statement (a data-modifying CTE), so that a
   * change and its events are written in one round trip, atomically, with no transaction around
   * them: its SQL takes parameter `$first`, and writes the events only where `condition` (SQL)
   * holds, e.g. when the change itself inserted a row; it may look at each event's row as `"e"`
   * (its `"payload"` is the event), to write only the events of the rows that were inserted. The
   * caller then {@link kick}s the relay.
   *
   * The events go in as one JSON array with each event's JSON (and its trace headers' JSON)
   * embedded as it is, rather than a jsonb array parameter: node-postgres escapes every element
   * of an array in JavaScript (the quotes and backslashes of a whole event, per event) and
   * Postgres parses it again with array_in; a batch of a thousand requests writes two thousand
   * events. The array keeps its
   * order, so the outbox ids (the relay's order) follow the order emitted.
   */
  insertWithin(events: PendingEvent[], first: number, condition: string): { sql: string; parameters: unknown[] } {
    let rows = '[';
    for (const { event, json, traceHeaders } of events) {
      rows += `${rows.length > 1 ? ',' : ''}{"event_id":"${event.id}","type":${JSON.stringify(event.type)},"payload":${json},"headers":${traceHeaders ?? 'null'}}`;
    }
    return {
      sql: `INSERT INTO "${this.schema}"."outbox" ("event_id", "type", "payload", "headers")
       SELECT * FROM jsonb_to_recordset($${first}::jsonb) AS "e"("event_id" uuid, "type" text, "payload" jsonb, "headers" jsonb) WHERE ${condition}`,
      parameters: [`${rows}]`],
    };
  }

  /** Asks the relay to run now instead of at its next poll. */
  kick(): void {
    this.relay.poke();
  }

  start(): void {
    this.relay.start();
  }

  stop(): Promise<void> {
    return this.relay.stop();
  }

  /**
   * Publishes the oldest batch and deletes it in one transaction; if publishing fails the rows
   * stay and are sent again. Replicas relay one at a time, in outbox order (the advisory lock).
   *
   * Two round trips, not four: BEGIN travels with the locking read and COMMIT with the delete,
   * as multi-statement simple queries. Neither takes a parameter (the batch size is a constant,
   * the ids are the bigints just read), so nothing from outside reaches the SQL text. The relay
   * runs after nearly every transaction of every service, so its round trips are a large part
   * of theirs. The payload stays text end to end: it is published as stored, never parsed.
   * Events of one type share a message where their requests' order allows ({@link packEventMessages}).
   */
  async relayBatch(): Promise<number> {
    const runner = this.dataSource.createQueryRunner();
    const client = (await runner.connect()) as SimpleQueryClient;
    try {
      // One relay of the service at a time (the others wait for it): replicas relaying side by
      // side would interleave their batches, and put a task's later event on the stream, and in
      // the ledger, before an earlier one. One after the other, the stream keeps outbox order,
      // which for any one task is commit order (its transactions take turns on its row).
      const [, , selected] = await client.query(
        `BEGIN; SELECT pg_advisory_xact_lock(hashtext('hms.outbox-relay.${this.schema}')); SELECT "id", "event_id", "type", "payload"->>'requestId' AS "request_id", "payload"::text AS "payload", "headers" FROM "${this.schema}"."outbox" ORDER BY "id" LIMIT ${RELAY_BATCH} FOR UPDATE SKIP LOCKED`,
      );
      const rows = selected!.rows as OutboxRow[];
      const maxPayload = this.bus.maxPayload;
      await Promise.all(
        packEventMessages(rows, Math.min(MAX_EVENT_MESSAGE_BYTES, maxPayload - HEADERS_RESERVE_BYTES)).map(({ type, msgId, body: stored, headers: carried }) => {
          const headers = natsHeaders();
          for (const [key, value] of Object.entries(carried)) headers.set(key, value);
          const body = fittingBody(stored, encodedHeaderBytes(headers), maxPayload);
          if (body === null) {
            // Events are refused at creation when they cannot fit (see collector), so only one
            // written before max_payload was lowered gets here. It stays, and holds the relay
            // back (the ones after it must not overtake it) until max_payload is raised: say so.
            throw new Error(`event message ${msgId} (${type}, ${Buffer.byteLength(stored)} bytes) exceeds NATS max_payload ${maxPayload}; raise max_payload to relay it`);
          }
          return this.bus.jetstream.publish(this.bus.subject(EventStream.subjectOf(type)), body, { msgID: msgId, headers });
        }),
      );
      await client.query(rows.length > 0 ? `DELETE FROM "${this.schema}"."outbox" WHERE "id" IN (${rows.map((row) => BigInt(row.id).toString()).join(',')}); COMMIT` : 'COMMIT');
      return rows.length;
    } catch (error) {
      // The connection goes back to the pool: it must not go back inside this transaction.
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      await runner.release();
    }
  }
}

/**
 * The body to publish, or null if it cannot fit. The outbox keeps events as jsonb, which writes
 * numbers in full (`1e308` comes back as 309 digits), so an event measured at its creation can
 * come out of the outbox many times larger. Serialized again the way it was measured (every
 * consumer parses it in JavaScript, so it reads the same values), it fits again. Only a body
 * that does not fit as stored is parsed: the relay's usual path copies text.
 */
function fittingBody(stored: string, headerBytes: number, maxPayload: number): string | null {
  if (fitsIn(stored, headerBytes, maxPayload)) return stored;
  const compact = JSON.stringify(JSON.parse(stored));
  return fitsIn(compact, headerBytes, maxPayload) ? compact : null;
}

/** node-postgres answering a multi-statement simple query with one result per statement. */
interface SimpleQueryClient {
  query(text: string): Promise<Array<{ rows: unknown[] }>>;
}
