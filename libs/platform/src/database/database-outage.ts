/** Socket errors of a Postgres that is down, restarting or out of reach. */
const UNREACHABLE_SYSTEM_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/**
 * SQLSTATEs that say "not now" rather than "not this statement": connection exceptions (class
 * 08), a server shutting down or starting up (57P01-57P03), too many connections or out of
 * resources (class 53).
 */
function isTransientSqlState(code: string): boolean {
  return code.startsWith('08') || code.startsWith('53') || ['57P01', '57P02', '57P03'].includes(code);
}

/**
 * Whether Postgres cancelled the statement at `statement_timeout` (57014). Not an outage: the
 * same statement may well time out again, so a consumer must not wait for it to pass; a caller
 * is told UNAVAILABLE (try later) all the same.
 */
export function isStatementTimeout(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, driverError } = error as { code?: unknown; driverError?: unknown };
  return code === '57014' || (driverError !== undefined && isStatementTimeout(driverError));
}

/** What node-postgres and TypeORM say when a connection is gone, or none could be had in time. */
const CONNECTION_LOST = /connection terminated|timeout exceeded when trying to connect|is not queryable|driver not connected|connection (?:ended|closed)/i;

/**
 * Whether an error means Postgres could not be reached, dropped the connection, or ran out of
 * time or connections: the call may succeed later (answer UNAVAILABLE), unlike a statement
 * Postgres refused (a constraint, a bug), which will fail again.
 */
export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 4) return false;
  const { code, message, driverError, cause, errors } = error as { code?: unknown; message?: unknown; driverError?: unknown; cause?: unknown; errors?: unknown };
  if (typeof code === 'string' && (UNREACHABLE_SYSTEM_CODES.has(code) || (/^[0-9A-Z]{5}$/.test(code) && isTransientSqlState(code)))) return true;
  if (typeof message === 'string' && CONNECTION_LOST.test(message)) return true;
  // TypeORM releases a transaction's runner when its connection breaks; the next statement of
  // the transaction then meets the released runner (or its entity manager) instead of the
  // connection error.
  if (['QueryRunnerAlreadyReleasedError', 'QueryRunnerProviderAlreadyReleasedError'].includes((error as Error).name)) return true;
  // TypeORM wraps the driver's error; Node wraps a refused connection to each address in an AggregateError.
  return (
    isDatabaseUnavailable(driverError, depth + 1) ||
    isDatabaseUnavailable(cause, depth + 1) ||
    (Array.isArray(errors) && errors.some((inner) => isDatabaseUnavailable(inner, depth + 1)))
  );
}

/** The error's message in one line (a driver error's `message` can be empty: then its code). */
export function errorSummary(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const text = error.message || (error instanceof AggregateError ? error.errors.map(errorSummary).join('; ') : '');
    return [typeof code === 'string' ? code : undefined, text].filter(Boolean).join(': ');
  }
  return String(error);
}
