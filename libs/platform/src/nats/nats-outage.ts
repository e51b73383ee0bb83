/** nats.js errors of a connection that is down, reconnecting or closing, or of a JetStream that does not answer. */
const UNAVAILABLE_NAMES = new Set(['TimeoutError', 'ClosedConnectionError', 'DrainingConnectionError', 'ConnectionError', 'NoResponders']);

/**
 * Whether an error means NATS (or JetStream) could not be reached in time: a publish, request
 * or pull made while the client reconnects. The same call may work once it has.
 */
export function isNatsUnavailable(error: unknown, depth = 0): boolean {
  if (!(error instanceof Error) || depth > 3) return false;
  // (A DOMException TimeoutError is an AbortSignal.timeout() of some HTTP call, not NATS.)
  if (UNAVAILABLE_NAMES.has(error.name) && !(error instanceof DOMException)) return true;
  // JetStream answering 503: no server of the stream's is reachable.
  if (error.name === 'JetStreamStatusError' && (error as { code?: unknown }).code === 503) return true;
  return isNatsUnavailable(error.cause, depth + 1);
}
