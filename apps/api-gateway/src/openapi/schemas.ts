import { PLAN_JSON_SCHEMA } from '@hms/contracts';
import { getMetadataStorage } from 'class-validator';
import { validationMetadatasToSchemas } from 'class-validator-jsonschema';
import { RESPONSE_SCHEMAS } from './response-schemas';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { defaultMetadataStorage } = require('class-transformer/cjs/storage') as typeof import('class-transformer/types/storage');

/** A `$ref` to a component schema of the OpenAPI document. */
export function schemaRef(name: string) {
  return { $ref: `#/components/schemas/${name}` };
}

/**
 * Component schemas generated from the contract classes' class-validator decorators, so the
 * OpenAPI document cannot drift from what the services validate; plus the plan JSON Schema and
 * the answer bodies (./response-schemas.ts).
 */
export function contractSchemas(): Record<string, object> {
  const schemas = validationMetadatasToSchemas({
    classValidatorMetadataStorage: getMetadataStorage(),
    classTransformerMetadataStorage: defaultMetadataStorage,
    refPointerPrefix: '#/components/schemas/',
  }) as Record<string, object>;
  const { $schema: _schema, $id: _id, ...plan } = PLAN_JSON_SCHEMA;
  // A custom validator has no JSON Schema of its own: say what `plan` of a create accepts.
  const create = schemas.CreateRequestCommand as { properties: Record<string, object> };
  create.properties.plan = { oneOf: [{ type: 'string', minLength: 1, maxLength: 200 }, schemaRef('PlanDefinition')] };
  return {
    ...schemas,
    PlanDefinition: plan,
    ...RESPONSE_SCHEMAS,
  };
}
