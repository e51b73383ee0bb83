import { randomFillSync } from 'node:crypto';
import type { IdGenerator } from '@hms/platform';

/**
 * UUIDv7 ids (RFC 9562): a millisecond timestamp, then a 12-bit counter, then random bits. Ids of
 * one process sort in the order they were made, so "newest first" (created_at, id) stays in creation
 * order even for requests created in the same millisecond, and new rows land at the end of the
 * primary key index instead of all over it.
 */
export function uuidV7Generator(now: () => number = Date.now): IdGenerator {
  let lastMs = -1;
  let counter = 0;
  // Random bytes are drawn from the CSPRNG a pool at a time: one call per 256 ids rather than
  // two per id (a batch create makes a thousand ids, each a synchronous call into OpenSSL).
  const pool = Buffer.alloc(16 * 256);
  let used = pool.length;
  const randomBytes = (size: number): Buffer => {
    if (used + size > pool.length) {
      randomFillSync(pool);
      used = 0;
    }
    used += size;
    // A copy: the caller writes into its bytes, and the pool is refilled later.
    return Buffer.from(pool.subarray(used - size, used));
  };
  return {
    next(): string {
      let ms = now();
      if (ms <= lastMs) {
        ms = lastMs;
        counter += 1;
        // The counter is spent within this millisecond: borrow the next one (still monotonic).
        if (counter > 0xfff) {
          ms += 1;
          counter = 0;
        }
      } else {
        // Start low in the range so a burst within one millisecond has room to count up.
        counter = randomBytes(1)[0];
      }
      lastMs = ms;
      const bytes = randomBytes(16);
      bytes.writeUIntBE(ms, 0, 6);
      bytes[6] = 0x70 | (counter >> 8);
      bytes[7] = counter & 0xff;
      bytes[8] = 0x80 | (bytes[8] & 0x3f);
      const hex = bytes.toString('hex');
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    },
  };
}
