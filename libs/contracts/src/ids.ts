const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Request, task and event ids are uuids. Anything else cannot name one, and checking first keeps
 * Postgres from answering a malformed id with a cast error (INTERNAL instead of NOT_FOUND).
 */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_PATTERN.test(value);
}
