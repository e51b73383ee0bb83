import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RequestMethod } from '@nestjs/common';
import { HTTP_CODE_METADATA, METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { HealthController } from '@hms/platform';
import { GATEWAY_CONTROLLERS } from '../gateway.module';
import { OpenApiContract, type OpenApiDocument } from '../../../../libs/testing/src/openapi-contract';
import { buildOfflineOpenApiDocument } from './offline-document';
import { openApiJson } from './openapi';

const COMMITTED = join(__dirname, '..', '..', '..', '..', 'docs', 'openapi.json');

describe('the OpenAPI document', () => {
  let served: Awaited<ReturnType<typeof buildOfflineOpenApiDocument>>;
  let built: OpenApiDocument;

  beforeAll(async () => {
    served = await buildOfflineOpenApiDocument();
    built = served as unknown as OpenApiDocument;
  });

  it('is committed as docs/openapi.json (regenerate it with `npm run openapi`)', () => {
    const committed = readFileSync(COMMITTED, 'utf8');
    expect(differences(JSON.parse(openApiJson(served)), JSON.parse(committed))).toEqual([]);
    expect(openApiJson(served)).toBe(committed);
  });

  it('gives every operation a success answer with a body schema (declare it with @ApiAnswer)', () => {
    const missing: string[] = [];
    for (const [path, item] of Object.entries(built.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        const successes = Object.entries(operation.responses ?? {}).filter(([status]) => status.startsWith('2'));
        if (successes.length === 0 || successes.some(([, response]) => !Object.values(response.content ?? {}).some((media) => media.schema))) {
          missing.push(`${method.toUpperCase()} ${path}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it('documents the status each route answers with (Nest answers a POST 201 unless told otherwise)', () => {
    const undocumented: string[] = [];
    let checked = 0;
    for (const controller of [...GATEWAY_CONTROLLERS, HealthController]) {
      const base = Reflect.getMetadata(PATH_METADATA, controller) as string;
      for (const name of Object.getOwnPropertyNames(controller.prototype)) {
        const handler = (controller.prototype as unknown as Record<string, object>)[name];
        const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
        if (method === undefined) continue;
        const route = Reflect.getMetadata(PATH_METADATA, handler) as string;
        const path = `/${[base, route].filter((part) => part && part !== '/').join('/')}`.replace(/:(\w+)/g, '{$1}');
        const verb = RequestMethod[method].toLowerCase();
        const status = (Reflect.getMetadata(HTTP_CODE_METADATA, handler) as number | undefined) ?? (verb === 'post' ? 201 : 200);
        const operation = (built.paths[path] as Record<string, { responses?: Record<string, unknown> }> | undefined)?.[verb];
        // Controllers left out of the document (the dashboard page) have no operation.
        if (!operation) continue;
        checked++;
        if (!operation.responses?.[String(status)]) undocumented.push(`${verb.toUpperCase()} ${path} answers ${status}`);
      }
    }
    expect(undocumented).toEqual([]);
    expect(checked).toBe(Object.values(built.paths).flatMap((item) => Object.keys(item)).length);
  });

  it('has schemas whose references all resolve', () => {
    const contract = new OpenApiContract(built);
    for (const item of Object.values(built.paths)) {
      for (const operation of Object.values(item)) {
        for (const response of Object.values(operation.responses ?? {})) {
          const schemas = Object.values(response.content ?? {}).flatMap((media) => (media.schema ? [media.schema] : []));
          for (const schema of schemas) expect(() => contract.validator(schema)).not.toThrow();
        }
      }
    }
  });

  it('documents what the gateway answers, and a body that drifts fails the check', () => {
    const contract = new OpenApiContract(built);
    const lease = { leaseToken: 't', id: 'task', requestId: 'r', stepId: 's', title: 'T', pool: 'p', tags: [], payload: {}, input: {}, attempt: 1, leaseExpiresAt: '2026-01-01T00:00:00.000Z', leaseSeconds: 300 };
    expect(contract.check({ method: 'POST', path: '/v1/pools/p/lease', status: 200, contentType: 'application/json', body: { tasks: [lease] } })).toBeUndefined();
    expect(contract.check({ method: 'POST', path: '/v1/pools/p/lease', status: 201, contentType: 'application/json', body: { tasks: [] } })).toMatch(/does not document/);
    expect(contract.check({ method: 'POST', path: '/v1/pools/p/lease', status: 200, contentType: 'application/json', body: { tasks: [{ ...lease, extra: 1 }] } })).toMatch(/extra/);
    expect(contract.check({ method: 'POST', path: '/v1/tasks/complete', status: 200, contentType: 'application/json', body: { results: [{ id: 'a', status: 'completed' }] } })).toBeUndefined();
    const notFound = { error: { code: 'NOT_FOUND', message: 'No such task' }, requestId: 'x' };
    expect(contract.check({ method: 'GET', path: '/v1/tasks/nope', status: 404, contentType: 'application/json; charset=utf-8', body: notFound })).toBeUndefined();
    expect(contract.check({ method: 'GET', path: '/v1/tasks/nope', status: 404, contentType: 'application/json', body: { message: 'Not Found' } })).toMatch(/does not match/);
    expect(contract.check({ method: 'GET', path: '/v1/nothing', status: 404, contentType: 'application/json', body: notFound })).toMatch(/no such operation/);
    const snapshot = { pool: 'p', depth: 1, leased: 0, oldestWaitSeconds: 3, waitP50Seconds: null, waitP95Seconds: null, throughputPerMinute: 0, successRate: null, workersOnline: 0, desiredReplicas: null, updatedAt: '2026-01-01T00:00:00.000Z' };
    const event = (name: string, data: unknown) => contract.checkEvent({ method: 'GET', path: '/v1/metrics/stream', status: 200, event: name, data: JSON.stringify(data) });
    expect(event('pool', snapshot)).toBeUndefined();
    expect(event('error', { error: { code: 'UNAVAILABLE', message: 'ops did not answer' }, requestId: 'r' })).toBeUndefined();
    expect(event('pool', { ...snapshot, depth: 'many' })).toMatch(/depth must be integer/);
    expect(event('tick', {})).toMatch(/not documented/);
  });
});

/** Where two JSON values differ, as paths (the first 20), so a stale docs/openapi.json fails readably. */
function differences(actual: unknown, expected: unknown, path = '', found: string[] = []): string[] {
  if (found.length >= 20) return found;
  if (actual && expected && typeof actual === 'object' && typeof expected === 'object' && Array.isArray(actual) === Array.isArray(expected)) {
    const keys = new Set([...Object.keys(actual), ...Object.keys(expected)]);
    for (const key of keys) differences((actual as Record<string, unknown>)[key], (expected as Record<string, unknown>)[key], `${path}/${key}`, found);
  } else if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    found.push(`${path}: served ${JSON.stringify(actual)?.slice(0, 80)}, committed ${JSON.stringify(expected)?.slice(0, 80)}`);
  }
  return found;
}
