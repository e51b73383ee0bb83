import type { Page } from '@hms/contracts';

/** What a page answer adds around its items: the RPC envelope, `items`, and a cursor. */
const PAGE_ENVELOPE_BYTES = 1024;

/**
 * One page from `rows`, read with one row past `limit` to tell whether more follow: its first
 * rows, up to `limit`, that fit together in an answer of `maxPayload` bytes (NATS's limit), at
 * least one. A page of large items (tasks with their payloads, ledger entries with their data)
 * comes back shorter rather than too large to send, and its cursor continues after the last item
 * it holds. Each item is serialized once here to measure it; a lone item too large for any
 * answer is still returned, and the RPC server answers PAYLOAD_TOO_LARGE for it.
 */
export function pageThatFits<R, T>(
  rows: readonly R[],
  limit: number,
  toItem: (row: R) => T,
  cursorOf: (row: R) => string,
  maxPayload: number,
): Page<T> {
  const room = maxPayload - PAGE_ENVELOPE_BYTES;
  const items: T[] = [];
  let bytes = 0;
  for (const row of rows.slice(0, limit)) {
    const item = toItem(row);
    const itemBytes = Buffer.byteLength(JSON.stringify(item)) + 1;
    if (items.length > 0 && bytes + itemBytes > room) break;
    items.push(item);
    bytes += itemBytes;
  }
  const last = rows[items.length - 1];
  return { items, nextCursor: rows.length > items.length && last !== undefined ? cursorOf(last) : null };
}
