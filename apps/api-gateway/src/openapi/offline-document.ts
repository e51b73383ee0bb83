import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { OpenAPIObject } from '@nestjs/swagger';
import { HealthController, LOGGER, NatsBus, Readiness } from '@hms/platform';
import { GatewayConfig } from '../gateway.config';
import { GATEWAY_CONTROLLERS } from '../gateway.module';
import { RpcGateway } from '../http/rpc-gateway';
import { MetricsStream } from '../metrics/metrics-stream';
import { buildOpenApiDocument } from './openapi';

/**
 * The gateway's OpenAPI document built from its controllers alone, without NATS or a port: what
 * `npm run openapi` writes to `docs/openapi.json` and what the served `/docs/openapi.json` must equal.
 */
export async function buildOfflineOpenApiDocument(): Promise<OpenAPIObject> {
  // The controllers are only read for their routes and decorators; nothing here is ever called.
  const unused = {};
  @Module({
    controllers: [...GATEWAY_CONTROLLERS, HealthController],
    providers: [RpcGateway, MetricsStream, GatewayConfig, Readiness, NatsBus, LOGGER].map((token) => ({ provide: token, useValue: unused })),
  })
  class OpenApiDocumentModule {}
  // The gateway's adapter, so that the routes are read as the served document reads them.
  const app = await NestFactory.create(OpenApiDocumentModule, new FastifyAdapter(), { logger: false, abortOnError: false });
  try {
    return buildOpenApiDocument(app);
  } finally {
    await app.close();
  }
}
