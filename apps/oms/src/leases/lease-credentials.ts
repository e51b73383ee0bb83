import { randomBytes, randomUUID } from 'node:crypto';

const LEASE_TOKEN_BYTES = 32;

/** Fresh lease credentials for `count` leases: secret tokens (crypto-random, base64url) and public lease ids. */
export function newLeaseCredentials(count: number): { leaseTokens: string[]; leaseIds: string[] } {
  const secrets = randomBytes(LEASE_TOKEN_BYTES * count);
  return {
    leaseTokens: Array.from({ length: count }, (_, i) => secrets.subarray(i * LEASE_TOKEN_BYTES, (i + 1) * LEASE_TOKEN_BYTES).toString('base64url')),
    leaseIds: Array.from({ length: count }, () => randomUUID()),
  };
}
