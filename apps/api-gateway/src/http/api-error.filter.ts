import { Catch, HttpException, Inject, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { DomainError, type ApiErrorBody, type ErrorCode, type ErrorDetail } from '@hms/contracts';
import { LOGGER } from '@hms/platform';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { codeOfHttpStatus, HTTP_STATUS_OF } from './error-status';

/** Messages of framework errors, rewritten so no parser internals reach the caller. */
function frameworkMessage(exception: HttpException, code: ErrorCode): string {
  const raw = exception.getResponse();
  const message = typeof raw === 'object' && raw && 'message' in raw ? (raw as { message: unknown }).message : exception.message;
  if (code === 'PAYLOAD_TOO_LARGE') return 'The request body is too large';
  if (code === 'VALIDATION_FAILED' && /JSON|Unexpected token|position/i.test(String(message))) return 'The request body is not valid JSON';
  return Array.isArray(message) ? message.join('; ') : String(message);
}

/** The answer to an error: its status and API.md's error (the request id is added by the caller). */
export interface ErrorAnswer {
  status: number;
  error: ApiErrorBody['error'];
  /** Not the caller's fault: a bug, whose cause is logged and never sent. */
  internal: boolean;
}

/**
 * Every error leaves the gateway as API.md's body `{error: {code, message, details}, requestId}`.
 * Domain errors keep their code; framework errors (unknown route, bad JSON, too large, a
 * malformed URL) get the matching code; anything else is a 500 INTERNAL.
 */
export function errorAnswer(exception: unknown): ErrorAnswer {
  let code: ErrorCode;
  let status: number;
  let message: string;
  let details: ErrorDetail[] | undefined;
  if (exception instanceof DomainError) {
    code = exception.code;
    status = HTTP_STATUS_OF[code];
    message = exception.message;
    details = exception.details;
  } else if (exception instanceof HttpException) {
    status = exception.getStatus();
    code = codeOfHttpStatus(status);
    status = HTTP_STATUS_OF[code] ?? status;
    message = frameworkMessage(exception, code);
  } else if (isFastifyClientError(exception)) {
    code = codeOfHttpStatus(exception.statusCode);
    status = HTTP_STATUS_OF[code];
    message = exception.code === 'FST_ERR_BAD_URL' ? 'The request path is not valid percent-encoded UTF-8' : frameworkMessage(new HttpException(exception.message, status), code);
  } else {
    return { status: 500, error: { code: 'INTERNAL', message: 'Internal error' }, internal: true };
  }
  return { status, error: { code, message, ...(details?.length ? { details } : {}) }, internal: false };
}

/** Sends an error answer: the body, the request id, and Retry-After where the call may be retried. */
export function sendErrorAnswer(answer: ErrorAnswer, request: { id: string }, reply: FastifyReply): void {
  // Set here too: the router refuses a malformed URL before the hook that echoes it runs.
  reply.header('x-request-id', request.id);
  if (answer.error.code === 'UNAVAILABLE') reply.header('Retry-After', '1');
  const body: ApiErrorBody = { error: answer.error, requestId: request.id };
  void reply.status(answer.status).send(body);
}

/** Every error of a Nest route, guard, body parser or unknown route, answered by {@link errorAnswer}. */
@Catch()
export class ApiErrorFilter implements ExceptionFilter {
  constructor(@Inject(LOGGER) private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const answer = errorAnswer(exception);
    if (answer.internal) this.logger.error({ err: exception, requestId: request.id, path: request.url }, 'unhandled error');
    sendErrorAnswer(answer, request, http.getResponse<FastifyReply>());
  }
}

/**
 * What Fastify refuses before a route runs, with a 4xx `statusCode` and an `FST_ERR_*` code: a
 * body over the limit (`FST_ERR_CTP_BODY_TOO_LARGE`, 413), a Content-Length the body does not
 * match (400), a malformed URL (`FST_ERR_BAD_URL`, 400). Its 5xx errors are bugs: INTERNAL.
 */
function isFastifyClientError(error: unknown): error is { statusCode: number; code: string; message: string } {
  if (typeof error !== 'object' || error === null) return false;
  const { statusCode, code } = error as { statusCode?: unknown; code?: unknown };
  return typeof code === 'string' && code.startsWith('FST_') && typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500;
}
