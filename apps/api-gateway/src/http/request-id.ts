import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

const REQUEST_ID = Symbol('requestId');

/** Gives every HTTP request an id (the caller's `x-request-id` when sane), echoed in the response. */
export function requestIdMiddleware(request: Request, response: Response, next: NextFunction): void {
  const given = request.header('x-request-id');
  const id = given && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
  (request as unknown as Record<symbol, string>)[REQUEST_ID] = id;
  response.setHeader('x-request-id', id);
  next();
}

export function requestIdOf(request: Request): string {
  return (request as unknown as Record<symbol, string>)[REQUEST_ID] ?? 'unknown';
}
