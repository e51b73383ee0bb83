import { DomainError } from '@hms/contracts';

/**
 * SQLSTATE classes and codes that say the database could not do the work now, not that the
 * event is bad: connection exceptions (08), serialization failures and deadlocks (40001,
 * 40P01), insufficient resources (53), a lock or statement timeout (55P03, 57014), the server
 * shutting down or starting (57P01-57P03), and system errors (58).
 */
const TRANSIENT_SQLSTATE = /^(08|53|58)|^(40001|40P01|55P03|57014|57P01|57P02|57P03)$/;

/** Socket errors of a connection that went away or never came. */
const TRANSIENT_SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** node-postgres and the pool say so only in words when a connection ends or cannot be had. */
const TRANSIENT_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|the database system is (starting up|shutting down)/i;

/**
 * Whether a handler's failure is the infrastructure's, not the event's: such a failure is
 * retried with backoff for as long as it lasts and never parks the event, so an outage or a
 * burst of lock timeouts under load does not park good events by the thousand. Everything
 * else (a constraint, a bad value, a bug) counts toward the delivery limit.
 */
export function isTransientFailure(error: unknown): boolean {
  if (error instanceof DomainError) return error.retryable;
  if (typeof error !== 'object' || error === null) return false;
  const { code, driverError, message } = error as { code?: unknown; driverError?: { code?: unknown }; message?: unknown };
  for (const candidate of [code, driverError?.code]) {
    if (typeof candidate !== 'string') continue;
    if (TRANSIENT_SQLSTATE.test(candidate) || TRANSIENT_SOCKET_CODES.has(candidate)) return true;
  }
  return typeof message === 'string' && TRANSIENT_MESSAGES.test(message);
}
