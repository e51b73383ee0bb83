import { DomainError, isUuid } from '@hms/contracts';

/** A position in a list ordered by (createdAt, id): the last row of the previous page. */
export interface TaskCursor {
  createdAt: Date;
  id: string;
}

/** Opaque to callers (base64url JSON), so the ordering can change without breaking them. */
export function encodeTaskCursor(cursor: TaskCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt.toISOString(), cursor.id]), 'utf8').toString('base64url');
}

/** Reads a cursor from a caller; anything that is not one of ours is VALIDATION_FAILED. */
export function decodeTaskCursor(value: string): TaskCursor {
  const invalid = () => new DomainError('VALIDATION_FAILED', 'The cursor is not valid', [{ path: 'cursor', message: 'not a cursor returned by this list' }]);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(parsed) || parsed.length !== 2 || typeof parsed[0] !== 'string' || typeof parsed[1] !== 'string') throw invalid();
  const createdAt = new Date(parsed[0]);
  if (Number.isNaN(createdAt.getTime()) || !isUuid(parsed[1])) throw invalid();
  return { createdAt, id: parsed[1] };
}
