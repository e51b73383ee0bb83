import { ErrorCodes } from '@hms/contracts';
import { codeOfHttpStatus, HTTP_STATUS_OF } from './error-status';

describe('HTTP_STATUS_OF', () => {
  it('maps every contract error code to the status API.md gives it', () => {
    expect(Object.keys(HTTP_STATUS_OF).sort()).toEqual([...ErrorCodes].sort());
    expect(HTTP_STATUS_OF).toMatchObject({
      VALIDATION_FAILED: 400,
      UNAUTHENTICATED: 401,
      FORBIDDEN: 403,
      NOT_FOUND: 404,
      CONFLICT: 409,
      LEASE_LOST: 409,
      IDEMPOTENCY_MISMATCH: 409,
      PAYLOAD_TOO_LARGE: 413,
      RATE_LIMITED: 429,
      UNAVAILABLE: 503,
    });
  });

  it.each([
    [400, 'VALIDATION_FAILED'],
    [404, 'NOT_FOUND'],
    [413, 'PAYLOAD_TOO_LARGE'],
    [415, 'VALIDATION_FAILED'],
    [503, 'UNAVAILABLE'],
    [502, 'INTERNAL'],
  ] as const)('gives framework status %i the code %s', (status, code) => {
    expect(codeOfHttpStatus(status)).toBe(code);
  });
});
