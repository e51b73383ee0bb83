import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { contractSchemas } from './schemas';

const ERROR_RESPONSES: Record<string, string> = {
  '400': 'VALIDATION_FAILED',
  '401': 'UNAUTHENTICATED',
  '403': 'FORBIDDEN',
  '404': 'NOT_FOUND',
  '409': 'CONFLICT / LEASE_LOST / IDEMPOTENCY_MISMATCH',
  '413': 'PAYLOAD_TOO_LARGE (a body, or an answer, larger than one NATS message carries)',
  '429': 'RATE_LIMITED (with a Retry-After header in seconds)',
  '503': 'UNAVAILABLE',
};

/** The OpenAPI document of the gateway: routes from the controllers, bodies from the contracts. */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('HMS Management Layer API')
    .setDescription('Plans, requests, pools, tasks, leases and metrics. Errors use the body {error: {code, message, details}, requestId}.')
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
    .build();
  const document = SwaggerModule.createDocument(app, config);
  document.components = { ...document.components, schemas: { ...(document.components?.schemas ?? {}), ...(contractSchemas() as Record<string, object>) } };
  for (const [path, item] of Object.entries(document.paths)) {
    if (!path.startsWith('/v1/')) continue;
    for (const operation of Object.values(item)) {
      if (typeof operation !== 'object' || !operation || !('responses' in operation)) continue;
      for (const [status, code] of Object.entries(ERROR_RESPONSES)) {
        operation.responses[status] ??= {
          description: code,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/ApiError' } } },
          ...(status === '429' ? { headers: { 'Retry-After': { description: 'Seconds until a call is accepted again', schema: { type: 'integer' } } } } : {}),
        };
      }
    }
  }
  return document;
}

/** Serves the document at `/docs` (UI) and `/docs/openapi.json`. */
export function serveOpenApi(app: INestApplication): void {
  const document = buildOpenApiDocument(app);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/openapi.json' });
}
