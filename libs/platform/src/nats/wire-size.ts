import type { MsgHdrs } from '@nats-io/transport-node';
import { DomainError } from '@hms/contracts';

/** NATS's default `max_payload`, assumed until the server's INFO says otherwise. */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/**
 * Room kept for a message's headers (`Nats-Msg-Id`, W3C trace context with a `tracestate` of up
 * to 512 characters, the actor) when its body is measured before they exist. NATS counts
 * headers and body together against `max_payload`.
 */
export const HEADERS_RESERVE_BYTES = 2 * 1024;

/**
 * Room kept around a caller's data that later messages wrap again: a request's payload travels
 * on in every `act.step.ready` (with the step's title, tags and retry policy) and in each lease
 * answer (with ids and tokens); a task's output in `oms.task.completed`. Data accepted within
 * `max_payload` minus this always fits in the messages derived from it.
 */
export const DERIVED_MESSAGE_RESERVE_BYTES = 16 * 1024;

/**
 * True when `text` (as UTF-8) plus `extraBytes` fits in `maxBytes`. Cheap for the common case:
 * a string whose UTF-16 length times three (the most UTF-8 bytes one unit becomes) fits is not
 * measured, so small messages, nearly all of them, cost a multiplication.
 */
export function fitsIn(text: string, extraBytes: number, maxBytes: number): boolean {
  const room = maxBytes - extraBytes;
  return text.length * 3 <= room || Buffer.byteLength(text) <= room;
}

/**
 * The most a JSON value grows when parsed and serialized again by JavaScript: a number written
 * short comes back long (`1e20`, four bytes, is written as twenty-one digits).
 */
const REWRITE_GROWTH = 6;

/**
 * Throws PAYLOAD_TOO_LARGE (at `path`) unless `value`, serialized, leaves `reserveBytes` of
 * `maxPayload` for the messages that will carry it on. Part of a request of `requestBytes`, it
 * is only serialized to measure it when the request itself is large enough to hold too much.
 */
export function assertRoomFor(
  value: unknown,
  wire: { requestBytes: number; maxPayload: number },
  what: string,
  path: string,
  reserveBytes = DERIVED_MESSAGE_RESERVE_BYTES,
): void {
  const room = wire.maxPayload - reserveBytes;
  if (wire.requestBytes * REWRITE_GROWTH <= room) return;
  const bytes = Buffer.byteLength(JSON.stringify(value) ?? '');
  if (bytes > room) throw payloadTooLarge(what, bytes, room, path);
}

/** PAYLOAD_TOO_LARGE (413) for a message of `bytes` that cannot travel over NATS. */
export function payloadTooLarge(what: string, bytes: number, maxBytes: number, path = ''): DomainError {
  return new DomainError('PAYLOAD_TOO_LARGE', `${what} is too large to carry: ${bytes} bytes where at most ${maxBytes} fit`, [
    { path, message: `at most ${maxBytes} bytes (NATS max_payload less what the message adds)` },
  ]);
}

/** The size of headers as NATS encodes them: `NATS/1.0\r\n`, `key: value\r\n` each, `\r\n`. */
export function encodedHeaderBytes(headers: MsgHdrs): number {
  let bytes = 12;
  for (const key of headers.keys()) for (const value of headers.values(key)) bytes += Buffer.byteLength(key) + Buffer.byteLength(value) + 4;
  return bytes;
}
