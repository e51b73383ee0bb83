import type { INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { GatewayConfig } from '../gateway.config';
import { serveOpenApi } from '../openapi/openapi';
import { requestIdMiddleware } from './request-id';

/** Body parsing (JSON and YAML plans, with a size limit), request ids and the OpenAPI docs. */
export function configureHttp(app: INestApplication, config: GatewayConfig): void {
  const express = app as NestExpressApplication;
  const limit = `${config.GATEWAY_BODY_LIMIT_KB}kb`;
  express.use(requestIdMiddleware);
  express.useBodyParser('json', { limit });
  express.useBodyParser('text', { limit, type: ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'] });
  serveOpenApi(app);
}
