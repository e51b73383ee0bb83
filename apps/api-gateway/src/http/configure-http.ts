import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import helmet from 'helmet';
import { DomainError } from '@hms/contracts';
import type { HttpServerOptions } from '@hms/platform';
import type { GatewayConfig } from '../gateway.config';
import { serveOpenApi } from '../openapi/openapi';
import { errorAnswer, sendErrorAnswer } from './api-error.filter';
import { requestIdFor } from './request-id';

/** The plan types read as YAML text (`POST /v1/plans`). */
export const YAML_CONTENT_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];

/**
 * The gateway's Fastify server: the body limit (413 above it), the client address rate limits
 * key on, request ids, and a router that matches like Express's did (case-insensitive, a
 * trailing slash ignored, path values of any length: a 5,000-character id is the service's 400 at
 * its field, not the router's 404 or 414).
 */
export function gatewayHttpOptions(config: GatewayConfig): HttpServerOptions {
  return {
    bodyLimit: config.GATEWAY_BODY_LIMIT_KB * 1024,
    // Only X-Forwarded-For hops added by our own proxies count: the nearest N addresses are
    // trusted (hop 0 is the socket's), as a `trust proxy` number did under Express; without any,
    // the socket address is the client's, and a forged header changes nothing.
    trustProxy: config.GATEWAY_TRUSTED_PROXIES === 0 ? false : (_address: string, hop: number) => hop < config.GATEWAY_TRUSTED_PROXIES,
    genReqId: requestIdFor,
    // What the router refuses before any hook or Nest runs (a path that does not decode as UTF-8):
    // answered with the API's error body and the headers of every other answer. (Typed there for
    // HTTP/2 servers too; the gateway's is node:http's.)
    frameworkErrors: (error, request, reply) => {
      edgeHeaders(request as FastifyRequest, reply as unknown as FastifyReply, noop);
      sendErrorAnswer(errorAnswer(error), request, reply as unknown as FastifyReply);
    },
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true, maxParamLength: 64 * 1024 },
  };
}

const noop = () => undefined;

/**
 * helmet's defaults (a CSP, nosniff, frame denial, HSTS, …) as the headers they set, in their
 * order, read once from helmet itself: with the default options every one is a constant (the
 * CSP included: no nonce), and running helmet's dozen chained middlewares on each call cost the
 * gateway about 3 % of its CPU per call for the same values.
 */
export const SECURITY_HEADERS: ReadonlyArray<readonly [string, string]> = helmetHeaders();

function helmetHeaders(): Array<[string, string]> {
  const headers: Array<[string, string]> = [];
  let finished = false;
  const response = {
    setHeader: (name: string, value: string) => void headers.push([name, value]),
    // X-Powered-By, which neither Node nor Fastify sets.
    removeHeader: noop,
  };
  helmet()({} as IncomingMessage, response as unknown as ServerResponse, (error?: unknown) => {
    if (error) throw error;
    finished = true;
  });
  // helmet 8 calls back at once; one that did not would be setting headers per request.
  if (!finished) throw new Error('helmet did not set its headers synchronously');
  return headers;
}

/**
 * `onRequest` hook: the security headers and the request id on every answer. Set on the Node
 * response, so that answers written to it directly (the metrics stream) carry them too; Fastify
 * merges them into the answers it sends, under what a route sets itself (the dashboard's own
 * stricter CSP). helmet's headers are read once here rather than set through @fastify/helmet,
 * which builds its middleware anew for every request and cannot reach the router's refusals.
 */
function edgeHeaders(request: FastifyRequest, reply: FastifyReply, done: () => void): void {
  const response = reply.raw;
  response.setHeader('x-request-id', request.id);
  for (const [name, value] of SECURITY_HEADERS) response.setHeader(name, value);
  done();
}

/**
 * Security headers on every answer (Fastify sends no X-Powered-By), request ids, body parsing
 * (JSON and YAML plans, within the server's body limit) and the OpenAPI docs.
 */
export async function configureHttp(app: NestFastifyApplication, config: GatewayConfig): Promise<void> {
  const bodyLimit = config.GATEWAY_BODY_LIMIT_KB * 1024;
  app.getHttpAdapter().getInstance().addHook('onRequest', edgeHeaders);
  app.useBodyParser('application/json', { bodyLimit }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
  app.useBodyParser(YAML_CONTENT_TYPES, { bodyLimit }, (_request, body, done) => done(null, body.toString('utf8')));
  passOtherBodiesOn(app);
  serveOpenApi(app);
}

/** The first character of a JSON text after the whitespace JSON allows. */
const FIRST_CHARACTER = /^[\x20\x09\x0a\x0d]*([^\x20\x09\x0a\x0d])/;

/**
 * A JSON body as the API has always read it: an empty one is `{}` (a body-less POST sent with
 * the JSON content type, as clients do), only an object or an array is accepted at the top, and
 * anything else is 400 "not valid JSON". Plain `JSON.parse`: a `__proto__` key stays an ordinary
 * key, forwarded to the service like any other (nothing here copies it onto a prototype).
 */
export function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) return {};
  const text = body.toString('utf8');
  const first = FIRST_CHARACTER.exec(text)?.[1];
  if (first !== '{' && first !== '[') throw notJson();
  try {
    return JSON.parse(text);
  } catch {
    throw notJson();
  }
}

const notJson = () => new DomainError('VALIDATION_FAILED', 'The request body is not valid JSON');

/**
 * Bodies of any other type (or none) reach the route unread, as `undefined`: a route that takes no
 * body ignores them, one that needs a JSON object refuses the call with its usual 400. Fastify
 * would answer 415 for an unknown type and read `text/plain` as a string; neither is the API's
 * answer. The unread body is drained by Node when the answer ends.
 */
function passOtherBodiesOn(app: NestFastifyApplication): void {
  const fastify = app.getHttpAdapter().getInstance();
  fastify.removeContentTypeParser('text/plain');
  fastify.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
}
