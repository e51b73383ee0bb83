import { randomUUID } from 'node:crypto';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HmsClient } from '@hms/client';
import { buildCli } from '../../libs/client/src/cli';
import { DEFAULT_LIMITS, FixedLimits } from '@hms/contracts';
import { signToken } from '@hms/platform';
import { startE2eStack } from './support/e2e-stack';

const PLAN = 'batch_plan';
const POOL = 'batch_pool';

/** Batch create through the gateway: the SDK's createMany, the raw HTTP answer shape, and the CLI's --file. */
describe('POST /v1/requests/batch through the gateway', () => {
  let env: Awaited<ReturnType<typeof startE2eStack>>;
  let service: HmsClient;

  beforeAll(async () => {
    env = await startE2eStack('e2e_requests_batch');
    service = new HmsClient({ baseUrl: env.stack.gatewayUrl, token: env.stack.serviceToken });
    await env.manager.plans.register({ id: PLAN, steps: [{ id: 'only', pool: POOL }] });
  });

  afterAll(async () => {
    await env?.dispose();
  });

  async function post(body: string, token = env.stack.serviceToken): Promise<{ status: number; json: any }> {
    const response = await fetch(`${env.stack.gatewayUrl}/v1/requests/batch`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });
    return { status: response.status, json: await response.json() };
  }

  it('answers 200 with one result per item in order: 201 created, 200 repeated, and each bad item its own error body', async () => {
    const key = `e2e-${randomUUID()}`;
    const { results } = await service.requests.createMany([
      { plan: PLAN, payload: { i: 0 }, idempotencyKey: key },
      { plan: 'missing_plan', payload: {} },
      { plan: PLAN, payload: { i: 0 }, idempotencyKey: key },
      { plan: PLAN, payload: { i: 0 }, priority: 1.5 } as never,
      { plan: PLAN, payload: { i: 2 }, idempotencyKey: key },
    ]);
    expect(results.map((result) => result.status)).toEqual([201, 404, 200, 400, 409]);
    expect(results[0]!.request).toMatchObject({ plan: PLAN, version: 1, status: 'running' });
    expect(results[2]!.request!.id).toBe(results[0]!.request!.id);
    expect(results[1]!.error).toMatchObject({ code: 'NOT_FOUND' });
    expect(results[3]!.error).toMatchObject({ code: 'VALIDATION_FAILED', details: [expect.objectContaining({ path: 'items[3].priority' })] });
    expect(results[4]!.error).toMatchObject({ code: 'IDEMPOTENCY_MISMATCH' });
    // The created request is queued as a task, as a single create's would be: a long-polling worker gets it.
    const worker = new HmsClient({ baseUrl: env.stack.gatewayUrl, token: await env.stack.workerToken([POOL], 'batch-first') });
    const { tasks } = await worker.tasks.lease(POOL, { worker: 'batch-first', max: 1, waitSeconds: 20 });
    expect(tasks.map((task) => task.requestId)).toEqual([results[0]!.request!.id]);
  });

  it("keeps idempotency keys per caller: one caller's key repeats its own request, single or batch, and another caller's same key is its own", async () => {
    const key = `e2e-${randomUUID()}`;
    const first = await service.requests.create({ plan: PLAN, payload: { n: 1 } }, { idempotencyKey: key });
    const other = new HmsClient({ baseUrl: env.stack.gatewayUrl, token: await signToken({ sub: 'other-service@hms', roles: ['service'] }, env.stack.jwtSecret) });
    const mine = await service.requests.createMany([{ plan: PLAN, payload: { n: 1 }, idempotencyKey: key }]);
    const theirs = await other.requests.createMany([
      { plan: PLAN, payload: { n: 2 }, idempotencyKey: key },
      { plan: PLAN, payload: { n: 2 }, idempotencyKey: key },
    ]);
    expect(mine.results.map((result) => [result.status, result.request?.id])).toEqual([[200, first.id]]);
    expect(theirs.results.map((result) => result.status)).toEqual([201, 200]);
    expect(theirs.results[0]!.request!.id).not.toBe(first.id);
    expect(theirs.results[1]!.request!.id).toBe(theirs.results[0]!.request!.id);
  });

  it('refuses a plan given inline in a batch item at items[i].plan, registering nothing, while the other items are created', async () => {
    const { results } = await service.requests.createMany([
      { plan: PLAN, payload: {} },
      { plan: { steps: [{ id: 'inline_step', pool: POOL }] }, payload: {} } as never,
    ]);
    expect(results.map((result) => result.status)).toEqual([201, 400]);
    expect(results[1]!.error).toMatchObject({ code: 'VALIDATION_FAILED', details: [expect.objectContaining({ path: 'items[1].plan' })] });
    expect((await env.manager.plans.list()).items.map((plan) => plan.id)).toEqual([PLAN]);
  });

  it('refuses what is not a batch, too many items, a body over the limit, and callers without the service role, as a whole', async () => {
    expect((await post('{"items": []}')).json.error.code).toBe('VALIDATION_FAILED');
    expect((await post('[]')).status).toBe(400);
    expect((await post(JSON.stringify({ items: [{ plan: PLAN }, 7] }))).status).toBe(400);
    const tooMany = await post(JSON.stringify({ items: Array.from({ length: FixedLimits.requestBatchItems + 1 }, () => ({ plan: PLAN })) }));
    expect(tooMany.status).toBe(400);
    expect(tooMany.json.error.details).toEqual([expect.objectContaining({ path: 'items' })]);
    const huge = await post(JSON.stringify({ items: [{ plan: PLAN, payload: { blob: 'x'.repeat(DEFAULT_LIMITS.requestBodyBytes) } }] }));
    expect(huge.status).toBe(413);
    expect(huge.json.error.code).toBe('PAYLOAD_TOO_LARGE');
    const worker = await env.stack.workerToken([POOL], 'batch-worker');
    expect((await post(JSON.stringify({ items: [{ plan: PLAN }] }), worker)).status).toBe(403);
  });

  it('is described in the OpenAPI document with its body schema', async () => {
    const document = (await (await fetch(`${env.stack.gatewayUrl}/docs/openapi.json`)).json()) as any;
    const operation = document.paths['/v1/requests/batch'].post;
    expect(JSON.stringify(operation.requestBody)).toContain('CreateRequestsCommand');
    expect(document.components.schemas.CreateRequestsCommand.properties.items).toMatchObject({ type: 'array', maxItems: FixedLimits.requestBatchItems });
  });

  it('hms request create --file sends an NDJSON file with createMany and prints one answer per line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hms-batch-'));
    try {
      const file = join(dir, 'items.ndjson');
      writeFileSync(file, [JSON.stringify({ plan: PLAN, payload: { n: 1 }, reference: 'cli-1' }), '', JSON.stringify({ plan: 'nope' }), JSON.stringify({ plan: PLAN, reference: 'cli-2' })].join('\n'));
      let out = '';
      let exitCode = 0;
      const cli = buildCli({ stdout: (text) => (out += text), stderr: () => undefined, env: { HMS_URL: env.stack.gatewayUrl, HMS_TOKEN: env.stack.serviceToken }, setExitCode: (code) => (exitCode = code) });
      await cli.parseAsync(['node', 'hms', 'request', 'create', '--file', file]);
      const { results } = JSON.parse(out) as { results: Array<{ line: number; status: number }> };
      expect(results.map(({ line, status }) => [line, status])).toEqual([
        [1, 201],
        [3, 404],
        [4, 201],
      ]);
      expect(exitCode).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
