import { EventStream } from '@hms/contracts';

/** An outbox row as the relay reads it: the event's JSON kept as stored text. */
export interface OutboxRow {
  id: string;
  event_id: string;
  type: string;
  /** The event's `requestId` (read from the stored envelope), or null for an event of no request. */
  request_id: string | null;
  payload: string;
  headers: TraceCarrier | null;
}

/** W3C trace context headers of one event (`traceparent`, `tracestate`). */
export type TraceCarrier = Record<string, string>;

/** One JetStream message to publish: a lone event, or a run of events of one type. */
export interface EventMessage {
  type: string;
  /** `Nats-Msg-Id`: the event id, or for a run `<first event id>+<count>`. */
  msgId: string;
  body: string;
  /** Message headers: a lone event's trace context, or a run's per-event traces under {@link EventStream.eventTracesHeader}. */
  headers: Record<string, string>;
}

/**
 * At most this many events share a message. A message is acknowledged as a whole, so the
 * events of a run ride on one delivery and one ack; the cap bounds what one consumer failure
 * sends round again (its batch-mates are then only recognised as seen).
 */
export const MAX_EVENTS_PER_MESSAGE = 100;

/**
 * A run stops growing at this size (its body and its traces header), or at the server's
 * `max_payload` less the headers' reserve when that is smaller (the relay passes it).
 */
export const MAX_EVENT_MESSAGE_BYTES = 256 * 1024;

interface Run {
  rows: OutboxRow[];
  bytes: number;
}

/**
 * Packs outbox rows into messages, each a run of events of one type whose body is the JSON array
 * of their envelopes, so the stream, every consumer's delivery and its ack are paid once per run
 * instead of once per event. A run's subject is still its type's, so a consumer's filter still
 * selects it.
 *
 * The order the stream promises is each request's (for a task, commit order): every consumer
 * handles a batch in request-id order anyway ({@link byRequestId}), so the order between two
 * requests' events is not kept past the first batch. So an event joins the newest run of its
 * type unless its request has an event in a later run: requests created side by side, whose
 * events alternate `act.request.created`, `act.step.ready`, … in the outbox, go out as one
 * message per type instead of one per event. An event of no request (a worker's, a pool's) is
 * a barrier: it keeps its place between everything before and after it, as every event did
 * before (it only joins the run just before it, of its own type).
 *
 * A lone event is published as before: its envelope as the body, its id as `Nats-Msg-Id`, its
 * trace context in the headers. An event whose envelope alone exceeds `maxBytes` goes alone.
 * The packing depends only on the rows, so a relay that publishes the same rows again after a
 * crash sends the same message ids, which the stream's de-duplication drops.
 */
export function packEventMessages(rows: OutboxRow[], maxBytes = MAX_EVENT_MESSAGE_BYTES): EventMessage[] {
  const runs: Run[] = [];
  /** Index of the first run an event may still join: the last barrier's. */
  let segmentStart = 0;
  /** Per request, the run holding its latest event: its next may not go into an earlier one. */
  const requestRun = new Map<string, number>();
  /** Per type, its newest run since the last barrier. */
  const typeRun = new Map<string, number>();
  const fits = (run: Run | undefined, type: string, bytes: number): run is Run =>
    run !== undefined && run.rows[0]!.type === type && run.rows.length < MAX_EVENTS_PER_MESSAGE && run.bytes + bytes <= maxBytes;
  const startRun = (row: OutboxRow, bytes: number): number => {
    // A run's body and its traces header are JSON arrays: two brackets each.
    runs.push({ rows: [row], bytes: bytes + 4 });
    return runs.length - 1;
  };
  for (const row of rows) {
    // Its envelope in the body, and its trace in the run's traces header.
    const bytes = Buffer.byteLength(row.payload) + 1 + (row.headers ? Buffer.byteLength(JSON.stringify(row.headers)) : 4) + 1;
    let index: number;
    if (row.request_id === null) {
      const last = runs[runs.length - 1];
      if (runs.length > segmentStart && fits(last, row.type, bytes)) {
        last.rows.push(row);
        last.bytes += bytes;
        index = runs.length - 1;
      } else index = startRun(row, bytes);
      segmentStart = index;
      requestRun.clear();
      typeRun.clear();
    } else {
      const earliest = Math.max(segmentStart, requestRun.get(row.request_id) ?? segmentStart);
      const candidate = typeRun.get(row.type) ?? runs.length - 1;
      const run = candidate >= earliest ? runs[candidate] : undefined;
      if (fits(run, row.type, bytes)) {
        run.rows.push(row);
        run.bytes += bytes;
        index = candidate;
      } else index = startRun(row, bytes);
      requestRun.set(row.request_id, index);
    }
    typeRun.set(row.type, index);
  }
  return runs.map(({ rows: run }): EventMessage => {
    const first = run[0]!;
    if (run.length === 1) return { type: first.type, msgId: first.event_id, body: first.payload, headers: { ...first.headers } };
    const traces = run.map((row) => row.headers);
    const headers: Record<string, string> = {};
    if (traces.some((trace) => trace !== null)) headers[EventStream.eventTracesHeader] = JSON.stringify(traces);
    return { type: first.type, msgId: `${first.event_id}+${run.length}`, body: `[${run.map((row) => row.payload).join(',')}]`, headers };
  });
}

/** One event of a received message, with the trace context it was emitted in. */
export interface UnpackedEvent {
  event: unknown;
  trace: TraceCarrier | null;
}

/**
 * The events a message carries (see {@link packEventMessages}): its body parsed (throws if it is
 * not JSON); a JSON array is a run, anything else one event. `header` reads a message header.
 */
export function unpackEventMessage(body: string, header: (name: string) => string | undefined): UnpackedEvent[] {
  const parsed: unknown = JSON.parse(body);
  if (!Array.isArray(parsed)) return [{ event: parsed, trace: loneTrace(header) }];
  const traces = parseTraces(header(EventStream.eventTracesHeader));
  return parsed.map((event, index) => ({ event, trace: traces[index] ?? null }));
}

/** A received NATS or JetStream message, as far as unpacking it needs. */
export interface ReceivedMessage {
  string(): string;
  headers?: { get(name: string): string };
}

/** {@link unpackEventMessage} of a received message (NATS answers a missing header with ''). */
export function unpackReceivedMessage(message: ReceivedMessage): UnpackedEvent[] {
  return unpackEventMessage(message.string(), (name) => message.headers?.get(name) || undefined);
}

function loneTrace(header: (name: string) => string | undefined): TraceCarrier | null {
  const carrier: TraceCarrier = {};
  for (const name of ['traceparent', 'tracestate']) {
    const value = header(name);
    if (value) carrier[name] = value;
  }
  return Object.keys(carrier).length > 0 ? carrier : null;
}

/** A malformed traces header costs the events their trace, not their delivery. */
function parseTraces(value: string | undefined): Array<TraceCarrier | null> {
  if (!value) return [];
  try {
    const traces: unknown = JSON.parse(value);
    if (!Array.isArray(traces)) return [];
    return traces.map((trace) => (trace !== null && typeof trace === 'object' && !Array.isArray(trace) ? (trace as TraceCarrier) : null));
  } catch {
    return [];
  }
}
