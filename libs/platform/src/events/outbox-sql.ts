import type { EventDataMap, EventSource, EventType } from '@hms/contracts';

/**
 * SQL expressions for each data field of an event of type T. The mapped type makes the compiler
 * hold the SQL to the contract: a field missing from, or unknown to, `EventDataMap[T]` does not
 * compile.
 */
export type EventDataSql<T extends EventType> = { [K in keyof EventDataMap[T]]-?: string };

/** SQL of an ISO-8601 UTC timestamp with milliseconds, exactly as JavaScript's toISOString() writes it. */
export function isoTimestampSql(expression: string): string {
  return `to_char((${expression}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}

export interface OutboxInsertSql<T extends EventType> {
  schema: string;
  source: EventSource;
  type: T;
  /** The rows the events are made of, e.g. the name of a CTE with RETURNING rows; the other expressions see each row as `r`. */
  from: string;
  /** Envelope fields as SQL: `at` an ISO-8601 text, `actor` text, `requestId` text or NULL. */
  at: string;
  actor: string;
  requestId: string;
  data: EventDataSql<T>;
  /** Trace headers (jsonb) to carry, as SQL; NULL for none. */
  headers: string;
}

/**
 * An `INSERT INTO <schema>.outbox … SELECT` writing one event per row of `from`, for use as a
 * CTE of the statement that makes the change: the change and its events then commit in one
 * round trip, with no transaction around them. The envelope is the one EventOutbox writes
 * (id, type, at, actor, requestId, source, data); the relay publishes both alike.
 *
 * Only for hot paths where the round trips matter (leasing, completing); everywhere else
 * events are built in TypeScript and collected with EventOutbox.collector().
 */
export function outboxInsertSql<T extends EventType>(spec: OutboxInsertSql<T>): string {
  const data = Object.entries(spec.data as Record<string, string>)
    .map(([field, expression]) => `'${field}', ${expression}`)
    .join(', ');
  // gen_random_uuid() in the inner select list runs once per row (in FROM it might run once).
  return `INSERT INTO "${spec.schema}"."outbox" ("event_id", "type", "payload", "headers")
  SELECT r.outbox_event_id, '${spec.type}',
         jsonb_build_object('id', r.outbox_event_id, 'type', '${spec.type}', 'at', ${spec.at}, 'actor', ${spec.actor},
                            'requestId', ${spec.requestId}, 'source', '${spec.source}', 'data', jsonb_build_object(${data})),
         ${spec.headers}
  FROM (SELECT source_row.*, gen_random_uuid() AS outbox_event_id FROM ${spec.from} AS source_row) AS r`;
}
