import type { INestApplication } from '@nestjs/common';
import helmet from 'helmet';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { GatewayConfig } from '../gateway.config';
import { serveOpenApi } from '../openapi/openapi';
import { requestIdMiddleware } from './request-id';

/**
 * Security headers on every answer (helmet's defaults: a CSP, nosniff, frame denial, HSTS, no
 * X-Powered-By; the dashboard sets its own stricter CSP), the client address rate limits key on,
 * body parsing (JSON and YAML plans, with a size limit), request ids and the OpenAPI docs.
 */
export function configureHttp(app: INestApplication, config: GatewayConfig): void {
  const express = app as NestExpressApplication;
  const limit = `${config.GATEWAY_BODY_LIMIT_KB}kb`;
  express.disable('x-powered-by');
  // Express hashes every answer's body for a weak ETag by default: a hash per call for a
  // conditional GET no client of this API makes (its answers change with every task event).
  express.set('etag', false);
  // Only X-Forwarded-For hops added by our own proxies count; without any, the socket address.
  express.set('trust proxy', config.GATEWAY_TRUSTED_PROXIES === 0 ? false : config.GATEWAY_TRUSTED_PROXIES);
  express.use(helmet());
  express.use(requestIdMiddleware);
  express.useBodyParser('json', { limit });
  express.useBodyParser('text', { limit, type: ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'] });
  serveOpenApi(app);
}
