import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { contractSchemas, schemaRef } from './schemas';

/** The error answers every `/v1` route may give (API.md "Errors"), all with the ApiError body. */
const ERROR_RESPONSES: Record<string, string> = {
  '400': 'VALIDATION_FAILED',
  '401': 'UNAUTHENTICATED',
  '403': 'FORBIDDEN',
  '404': 'NOT_FOUND',
  '409': 'CONFLICT / LEASE_LOST / IDEMPOTENCY_MISMATCH',
  '413': 'PAYLOAD_TOO_LARGE (a body, or an answer, larger than one NATS message carries)',
  '429': 'RATE_LIMITED (with a Retry-After header in seconds)',
  '503': 'UNAVAILABLE (a service behind the gateway did not answer, or Postgres is away; Retry-After says when to try again)',
};

/** The answers that say when to call again. */
const RETRY_AFTER_STATUSES = new Set(['429', '503']);
const retryAfterHeader = { 'Retry-After': { description: 'Seconds until a call is accepted again', schema: { type: 'integer' } } };

/** The platform's health routes are shared by every service, so their answers are declared here. */
const HEALTH_ANSWERS: Record<string, Record<string, string>> = {
  '/health/live': { '200': 'The process is up' },
  '/health/ready': { '200': 'Started, NATS connected', '503': 'Not ready: the same body, naming the checks that are down' },
};

const json = (schema: string) => ({ 'application/json': { schema: schemaRef(schema) } });

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
    for (const operation of Object.values(item)) {
      if (typeof operation !== 'object' || !operation || !('responses' in operation)) continue;
      if (path.startsWith('/v1/')) {
        // 413 on every route, not only those with a body: an answer too large for NATS is refused too.
        for (const [status, code] of Object.entries(ERROR_RESPONSES)) {
          operation.responses[status] ??= { description: code, content: json('ApiError'), ...(RETRY_AFTER_STATUSES.has(status) ? { headers: retryAfterHeader } : {}) };
        }
      }
      for (const [status, description] of Object.entries(HEALTH_ANSWERS[path] ?? {})) {
        operation.responses[status] = { description, content: json('Health') };
      }
    }
  }
  document.components.schemas = reachableSchemas(document);
  return document;
}

/**
 * Only the component schemas the paths use, directly or through other schemas: class-validator
 * knows every decorated class the process loaded (configuration classes too), which is neither
 * public nor the same in every process.
 */
function reachableSchemas(document: OpenAPIObject): Record<string, object> {
  const all = (document.components?.schemas ?? {}) as Record<string, object>;
  const reached = new Set<string>();
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(visit);
    if (!value || typeof value !== 'object') return;
    for (const [key, inner] of Object.entries(value)) {
      if (key === '$ref' && typeof inner === 'string' && inner.startsWith('#/components/schemas/')) {
        const name = inner.slice('#/components/schemas/'.length);
        if (!reached.has(name)) {
          reached.add(name);
          visit(all[name]);
        }
      } else visit(inner);
    }
  };
  visit(document.paths);
  return Object.fromEntries(Object.keys(all).sort().filter((name) => reached.has(name)).map((name) => [name, all[name]]));
}

/** Serves the document at `/docs` (UI) and `/docs/openapi.json`. */
export function serveOpenApi(app: INestApplication): void {
  const document = buildOpenApiDocument(app);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/openapi.json' });
}

/** The document as committed in `docs/openapi.json`: two-space JSON with a final newline. */
export function openApiJson(document: OpenAPIObject): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}
