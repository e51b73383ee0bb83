import { applyDecorators, HttpCode } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import type { ResponseSchemaName } from './response-schemas';
import { schemaRef } from './schemas';

/**
 * Declares a route's success answer: its status and the schema of its JSON body (a name from
 * RESPONSE_SCHEMAS). Every `/v1` route has at least one (openapi.spec.ts fails otherwise); the
 * error answers are added to every route by buildOpenApiDocument. Sets the status Nest answers
 * with too, so what is documented is what is sent: a route that answers two statuses (201 or
 * 200) sets them itself and declares both, the first one with `{ setStatus: false }`.
 */
export function ApiAnswer(status: number, schema: ResponseSchemaName, description?: string, options: { setStatus?: boolean } = {}): MethodDecorator {
  const response = ApiResponse({ status, description: description ?? schema, content: { 'application/json': { schema: schemaRef(schema) } } });
  return options.setStatus === false ? applyDecorators(response) : applyDecorators(HttpCode(status), response);
}
