// Type-only on purpose: the SDK then needs nothing of the monorepo at runtime.
import type { ErrorCode, ErrorDetail } from '@hms/contracts';

/**
 * Every failed call of {@link HmsClient} throws this: an error answer of the gateway (API.md
 * "Errors") or a call that got no answer at all (`status` 0, code `UNAVAILABLE`).
 */
export class HmsApiError extends Error {
  /** HTTP status; 0 when no answer arrived (network failure or client-side timeout). */
  readonly status: number;
  readonly code: ErrorCode;
  /** Per-field problems, e.g. every issue of a rejected plan. Empty when the server gave none. */
  readonly details: ErrorDetail[];
  /** The gateway's id of the HTTP request, for the logs; absent when no answer arrived. */
  readonly requestId?: string;
  /** How long the server asked to wait before trying again (its `Retry-After`), when it said. */
  readonly retryAfterMs?: number;

  constructor(init: { status: number; code: ErrorCode; message: string; details?: ErrorDetail[]; requestId?: string; retryAfterMs?: number; cause?: unknown }) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'HmsApiError';
    this.status = init.status;
    this.code = init.code;
    this.details = init.details ?? [];
    if (init.requestId !== undefined) this.requestId = init.requestId;
    if (init.retryAfterMs !== undefined) this.retryAfterMs = init.retryAfterMs;
  }

  /** True when the same call may succeed if repeated later unchanged. */
  get retryable(): boolean {
    return this.status === 503 || this.status === 429 || this.code === 'UNAVAILABLE' || this.code === 'RATE_LIMITED';
  }
}

/** True for {@link HmsApiError} with the given code (any code when omitted). */
export function isHmsApiError(error: unknown, code?: ErrorCode): error is HmsApiError {
  return error instanceof HmsApiError && (code === undefined || error.code === code);
}

/**
 * Used when the body is not the contract's error shape (a proxy's HTML page, an empty 502), so
 * callers can still branch on `code` rather than on status numbers.
 */
export function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
    case 422:
      return 'VALIDATION_FAILED';
    case 401:
      return 'UNAUTHENTICATED';
    case 403:
      return 'FORBIDDEN';
    case 404:
      return 'NOT_FOUND';
    case 409:
      return 'CONFLICT';
    case 413:
      return 'PAYLOAD_TOO_LARGE';
    case 429:
      return 'RATE_LIMITED';
    case 502:
    case 503:
    case 504:
      return 'UNAVAILABLE';
    default:
      return 'INTERNAL';
  }
}

/** Builds the error for a non-2xx answer from its (already parsed, possibly absent) body. */
export function errorFromResponse(status: number, body: unknown, headerRequestId: string | null, retryAfter: string | null = null): HmsApiError {
  const envelope = typeof body === 'object' && body !== null ? (body as { error?: unknown; requestId?: unknown }) : undefined;
  const error = typeof envelope?.error === 'object' && envelope.error !== null ? (envelope.error as Record<string, unknown>) : undefined;
  // An unknown code from a newer server still beats a guess from the status, so keep it.
  const code = typeof error?.code === 'string' && error.code.length > 0 ? (error.code as ErrorCode) : codeForStatus(status);
  const message = typeof error?.message === 'string' ? error.message : `HTTP ${status}`;
  const details = Array.isArray(error?.details) ? (error.details as ErrorDetail[]) : [];
  const requestId = typeof envelope?.requestId === 'string' ? envelope.requestId : (headerRequestId ?? undefined);
  const retryAfterMs = parseRetryAfter(retryAfter, Date.now());
  return new HmsApiError({ status, code, message, details, ...(requestId ? { requestId } : {}), ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
}

/** A `Retry-After` header (seconds, or an HTTP date) in milliseconds from `now`; undefined when absent or unreadable. */
export function parseRetryAfter(header: string | null, now: number): number | undefined {
  const value = header?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  // An HTTP date names its month ("Sun, 06 Dec 2026 12:00:05 GMT"); Date.parse alone also takes "-1".
  const at = /[a-z]{3}/i.test(value) ? Date.parse(value) : Number.NaN;
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
