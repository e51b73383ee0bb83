/**
 * Error codes shared by every service and the gateway. The gateway owns the mapping from code to
 * HTTP status; services only ever speak in these codes.
 */
export const ErrorCodes = [
  'VALIDATION_FAILED',
  'PLAN_INVALID',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
  'LEASE_LOST',
  'IDEMPOTENCY_MISMATCH',
  'PAYLOAD_TOO_LARGE',
  'RATE_LIMITED',
  'UNAVAILABLE',
  'INTERNAL',
] as const;

/** One of {@link ErrorCodes}. */
export type ErrorCode = (typeof ErrorCodes)[number];

/** A problem attached to one place in the input, e.g. `steps[1].after`. */
export interface ErrorDetail {
  /** Path into the input, dotted/indexed (`steps[1].after`); empty for the whole input. */
  path: string;
  /** What is wrong there, for a person. */
  message: string;
}

/** The error a service answers over NATS instead of a result. */
export interface RpcErrorBody {
  code: ErrorCode;
  message: string;
  /** True when the same call may succeed later (the service was busy or down). */
  retryable: boolean;
  details?: ErrorDetail[];
}

/** The public error body of the REST API (API.md). */
export interface ApiErrorBody {
  error: { code: ErrorCode; message: string; details?: ErrorDetail[] };
  /** The id of the HTTP request, also in the `x-request-id` header and the logs. */
  requestId: string;
}

/** Codes that a caller may retry unchanged. */
const RETRYABLE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['UNAVAILABLE', 'RATE_LIMITED']);

/**
 * The one error type domain code throws. It carries a contract code so that every layer
 * (RPC filter, gateway, SDK) can handle it without parsing messages.
 */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
  ) {
    super(message);
    this.name = 'DomainError';
  }

  get retryable(): boolean {
    return RETRYABLE_CODES.has(this.code);
  }

  toRpcBody(): RpcErrorBody {
    return { code: this.code, message: this.message, retryable: this.retryable, ...(this.details ? { details: this.details } : {}) };
  }

  static fromRpcBody(body: RpcErrorBody): DomainError {
    return new DomainError(body.code, body.message, body.details);
  }

  static notFound(what: string, id: string): DomainError {
    return new DomainError('NOT_FOUND', `${what} '${id}' was not found`);
  }
}

/** True when `value` looks like an {@link RpcErrorBody} (used on the receiving side of NATS). */
export function isRpcErrorBody(value: unknown): value is RpcErrorBody {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as RpcErrorBody).code === 'string' &&
    (ErrorCodes as readonly string[]).includes((value as RpcErrorBody).code) &&
    typeof (value as RpcErrorBody).message === 'string'
  );
}
