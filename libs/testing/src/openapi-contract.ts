import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { repoRoot } from './stack';

interface Operation {
  /** `x-events`: for a `text/event-stream`, the schema of each event's data by event name. */
  responses?: Record<string, { content?: Record<string, { schema?: object; 'x-events'?: Record<string, object> }> }>;
}
/** The parts of an OpenAPI document the checks read. */
export type OpenApiDocument = { paths: Record<string, Record<string, Operation>>; components?: { schemas?: Record<string, object> } };

/** One route of the document, matched against concrete paths. */
interface Route {
  template: string;
  pattern: RegExp;
  /** Fewer parameters first, so `/v1/tasks/complete` wins over `/v1/tasks/{id}`. */
  parameters: number;
  operations: Record<string, Operation>;
}

/**
 * Checks answers against the committed OpenAPI document (`docs/openapi.json`, which a unit test
 * keeps equal to what the gateway serves): the status must be documented for the operation, and
 * a JSON body must match that status's schema. Not exported from `@hms/testing`: ajv is a
 * development dependency.
 */
export class OpenApiContract {
  private readonly routes: Route[];
  private readonly ajv: Ajv;
  private readonly validators = new Map<object, ValidateFunction>();

  constructor(readonly document: OpenApiDocument) {
    // Not strict: OpenAPI 3.0 keywords (`example`, `nullable` beside `$ref`) are not JSON Schema.
    this.ajv = new Ajv({ strict: false, allErrors: true, discriminator: true });
    addFormats(this.ajv);
    this.ajv.addSchema({ $id: 'openapi', components: document.components ?? {} });
    this.routes = Object.entries(document.paths)
      .map(([template, operations]) => ({
        template,
        operations,
        parameters: (template.match(/\{[^}]+\}/g) ?? []).length,
        pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]+')}$`),
      }))
      .sort((a, b) => a.parameters - b.parameters);
  }

  static fromDocs(): OpenApiContract {
    return new OpenApiContract(JSON.parse(readFileSync(join(repoRoot(), 'docs', 'openapi.json'), 'utf8')) as OpenApiDocument);
  }

  /** The document's operation for a method and concrete path (no query), if it has one. */
  operation(method: string, path: string): { template: string; operation: Operation } | undefined {
    for (const route of this.routes) {
      const operation = route.operations[method.toLowerCase()];
      if (operation && route.pattern.test(path)) return { template: route.template, operation };
    }
    return undefined;
  }

  /** A schema of the document, compiled once; throws when a `$ref` in it does not resolve. */
  validator(schema: object): ValidateFunction {
    let validate = this.validators.get(schema);
    if (!validate) {
      validate = this.ajv.compile(rebase(schema));
      this.validators.set(schema, validate);
    }
    return validate;
  }

  /**
   * What is wrong with one answer, or undefined when it is as documented. `body` is the parsed
   * JSON, or undefined for a body that is not JSON (its media type is then checked alone).
   */
  check(answer: { method: string; path: string; status: number; contentType: string | null; body: unknown }): string | undefined {
    const found = this.operation(answer.method, answer.path);
    const where = `${answer.method} ${answer.path}`;
    if (!found) return `${where}: no such operation in the OpenAPI document`;
    const response = found.operation.responses?.[String(answer.status)];
    if (!response) return `${where} answered ${answer.status}, which ${answer.method} ${found.template} does not document (${Object.keys(found.operation.responses ?? {}).join(', ')})`;
    if (!response.content || answer.status === 204) return undefined;
    const mediaType = (answer.contentType ?? '').split(';')[0].trim();
    const media = response.content[mediaType];
    if (!media) return `${where} answered ${answer.status} as '${mediaType}', documented as ${Object.keys(response.content).join(', ')}`;
    if (mediaType !== 'application/json' || !media.schema) return undefined;
    const validate = this.validator(media.schema);
    if (validate(answer.body)) return undefined;
    const problems = (validate.errors ?? []).map((error) => `${error.instancePath || '(body)'} ${error.message}${error.params && 'additionalProperty' in error.params ? ` '${String(error.params.additionalProperty)}'` : ''}`);
    return `${where} answered ${answer.status} with a body that does not match ${found.template}'s schema: ${problems.join('; ')}`;
  }

  /** What is wrong with one Server-Sent Event of a `text/event-stream` answer, or undefined. */
  checkEvent(answer: { method: string; path: string; status: number; event: string; data: string }): string | undefined {
    const found = this.operation(answer.method, answer.path);
    const events = found?.operation.responses?.[String(answer.status)]?.content?.['text/event-stream']?.['x-events'];
    const where = `${answer.method} ${answer.path}`;
    if (!events) return `${where}: no events documented for ${answer.status}`;
    const schema = events[answer.event];
    if (!schema) return `${where} sent an event '${answer.event}', which is not documented (${Object.keys(events).join(', ')})`;
    let data: unknown;
    try {
      data = JSON.parse(answer.data);
    } catch {
      return `${where} sent an event '${answer.event}' whose data is not JSON`;
    }
    const validate = this.validator(schema);
    if (validate(data)) return undefined;
    return `${where} sent an event '${answer.event}' that does not match its schema: ${(validate.errors ?? []).map((error) => `${error.instancePath || '(data)'} ${error.message}`).join('; ')}`;
  }
}

/** Points `#/components/...` at the document registered as `openapi`. */
function rebase(schema: object): object {
  return JSON.parse(JSON.stringify(schema).replace(/"#\/components\//g, '"openapi#/components/')) as object;
}
