import { Catch, HttpException, Inject, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { DomainError, type ApiErrorBody, type ErrorCode, type ErrorDetail } from '@hms/contracts';
import { LOGGER } from '@hms/platform';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { codeOfHttpStatus, HTTP_STATUS_OF } from './error-status';
import { requestIdOf } from './request-id';

/** Messages of framework errors, rewritten so no parser internals reach the caller. */
function frameworkMessage(exception: HttpException, code: ErrorCode): string {
  const raw = exception.getResponse();
  const message = typeof raw === 'object' && raw && 'message' in raw ? (raw as { message: unknown }).message : exception.message;
  if (code === 'PAYLOAD_TOO_LARGE') return 'The request body is too large';
  if (code === 'VALIDATION_FAILED' && /JSON|Unexpected token|position/i.test(String(message))) return 'The request body is not valid JSON';
  return Array.isArray(message) ? message.join('; ') : String(message);
}

/**
 * Every error leaves the gateway as API.md's body `{error: {code, message, details}, requestId}`.
 * Domain errors keep their code; framework errors (unknown route, bad JSON, too large) get the
 * matching code; anything else is a 500 INTERNAL whose cause is logged, never sent.
 */
@Catch()
export class ApiErrorFilter implements ExceptionFilter {
  constructor(@Inject(LOGGER) private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<Request>();
    const response = http.getResponse<Response>();
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
    } else if (isBodyParserError(exception)) {
      status = exception.status;
      code = codeOfHttpStatus(status);
      message = frameworkMessage(new HttpException(exception.message, status), code);
    } else {
      code = 'INTERNAL';
      status = 500;
      message = 'Internal error';
      this.logger.error({ err: exception, requestId: requestIdOf(request), path: request.url }, 'unhandled error');
    }
    if (code === 'UNAVAILABLE') response.setHeader('Retry-After', '1');
    const body: ApiErrorBody = { error: { code, message, ...(details?.length ? { details } : {}) }, requestId: requestIdOf(request) };
    response.status(status).json(body);
  }
}

function isBodyParserError(error: unknown): error is { status: number; message: string; type: string } {
  return typeof error === 'object' && error !== null && typeof (error as { status?: unknown }).status === 'number' && 'type' in error;
}
