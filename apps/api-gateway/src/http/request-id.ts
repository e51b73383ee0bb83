import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** The caller's `x-request-id` is kept only when it is short and of plain characters (it reaches logs and answers). */
const SANE_REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * Fastify's `genReqId`: every HTTP request's id (`request.id`) is the caller's `x-request-id` when
 * sane, else a new UUID. Fastify calls it for every request it sees, also those its router refuses
 * before any hook runs (a malformed URL), so every error body has the real id.
 */
export function requestIdFor(request: { headers: IncomingHttpHeaders }): string {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : randomUUID();
}
