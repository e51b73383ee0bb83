import { DomainError, FixedLimits, isUuid } from '@hms/contracts';

/**
 * A position in a list ordered by a time and then the id (a task's or request's creation, an
 * alert's raising): the last row of the previous page.
 */
export interface TimeIdCursor {
  at: Date;
  id: string;
}

/** Opaque to callers (base64url JSON), so the ordering can change without breaking them. */
export function encodeTimeIdCursor(cursor: TimeIdCursor): string {
  return Buffer.from(JSON.stringify([cursor.at.toISOString(), cursor.id]), 'utf8').toString('base64url');
}

/** Reads a cursor from a caller; anything that is not one of ours is VALIDATION_FAILED. */
export function decodeTimeIdCursor(value: string): TimeIdCursor {
  const invalid = () => new DomainError('VALIDATION_FAILED', 'The cursor is not valid', [{ path: 'cursor', message: 'not a cursor returned by this list' }]);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(parsed) || parsed.length !== 2 || typeof parsed[0] !== 'string' || typeof parsed[1] !== 'string') throw invalid();
  const at = new Date(parsed[0]);
  const time = at.getTime();
  // Our cursors hold times of rows; one outside the timestamp range was made up, and Postgres would refuse it.
  if (Number.isNaN(time) || time < FixedLimits.earliestTime || time > FixedLimits.latestTime || !isUuid(parsed[1])) throw invalid();
  return { at, id: parsed[1] };
}
