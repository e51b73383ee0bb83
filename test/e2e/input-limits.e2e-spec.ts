import { headers as natsHeaders } from '@nats-io/transport-node';
import { BotRpcSubjects, INT4_MAX, NatsHeaders, RpcSubjects, type ErrorCode, type RpcSubject } from '@hms/contracts';
import type { NatsBus } from '@hms/platform';
import { startE2eStack } from './support/e2e-stack';

/** What a refusal looked like, the same shape whether it came through the gateway or over NATS. */
interface Refusal {
  status?: number;
  code: ErrorCode;
  paths: string[];
  messages: string[];
}

const PLAN = 'limits_plan';
const POOL = 'limits_pool';

/** `{"a":{"a":…1…}}`, `depth` objects deep, as JSON text (JSON.stringify would overflow the stack first). */
function deepJson(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

/**
 * A careless or hostile client tries each class of bad input through the gateway and straight
 * over NATS (as a bot inside the trust boundary may): each is a clear 4xx with the error body and
 * the field's path, never a 500 or a 503 that tells it to retry.
 */
describe('Input limits through the gateway and over NATS', () => {
  let env: Awaited<ReturnType<typeof startE2eStack>>;
  /** A bot's NATS user (its token in every call), and the gateway's for the calls no bot may make. */
  let bot: NatsBus;
  let gateway: NatsBus;
  let requestId: string;

  beforeAll(async () => {
    env = await startE2eStack('e2e_limits');
    bot = await env.connectAs('bot', 'e2e-limits-bot');
    gateway = await env.connectAs('gateway', 'e2e-limits-gateway');
    await env.manager.plans.register({ id: PLAN, steps: [{ id: 'only', pool: POOL }] });
    requestId = (await env.manager.requests.create({ plan: PLAN, payload: { ok: true } })).id;
  });

  afterAll(async () => {
    await bot?.close();
    await gateway?.close();
    await env?.dispose();
  });

  /** A raw HTTP call: the body is sent as the exact text given (objects as JSON). */
  async function http(method: string, path: string, body?: string | object, contentType = 'application/json'): Promise<Refusal & { status: number }> {
    const response = await fetch(`${env.stack.gatewayUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${env.stack.managerToken}`, ...(body === undefined ? {} : { 'content-type': contentType }) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const json = (await response.json()) as { error?: { code: ErrorCode; details?: Array<{ path: string; message: string }> }; requestId?: string };
    expect(json.requestId).toEqual(expect.any(String));
    const details = json.error?.details ?? [];
    return { status: response.status, code: json.error!.code, paths: details.map((d) => d.path), messages: details.map((d) => d.message) };
  }

  /**
   * A raw NATS request to a service, past the gateway's checks: the text is the message as
   * published. By a bot with a service token where NATS lets a bot call; a manager's call (plan
   * register, task list) as the gateway would send one, its actor header signed.
   */
  async function nats(subject: RpcSubject, text: string): Promise<Refusal> {
    const headers = natsHeaders();
    const byBot = (BotRpcSubjects as readonly string[]).includes(subject);
    const bus = byBot ? bot : gateway;
    if (byBot) headers.set(NatsHeaders.token, env.stack.serviceToken);
    else {
      const actor = JSON.stringify({ id: 'manager@hms', roles: ['manager'] });
      headers.set(NatsHeaders.actor, actor);
      headers.set(NatsHeaders.actorSignature, gateway.trust.sign(gateway.subject(subject), actor)!);
    }
    const reply = await bus.connection.request(bus.subject(subject), text, { timeout: 10_000, headers });
    const body = reply.json<{ ok: boolean; error?: { code: ErrorCode; details?: Array<{ path: string; message: string }> } }>();
    expect(body.ok).toBe(false);
    const details = body.error?.details ?? [];
    return { code: body.error!.code, paths: details.map((d) => d.path), messages: details.map((d) => d.message) };
  }

  describe('NUL characters and lone surrogates', () => {
    // Sent as raw JSON text: the escapes reach the parser exactly as a hostile client writes them.
    const nulReference = `{"plan":"${PLAN}","reference":"a\\u0000b"}`;
    const surrogatePayload = `{"plan":"${PLAN}","payload":{"name":"\\ud800"}}`;
    const surrogateKey = `{"plan":"${PLAN}","payload":{"\\udfff":1}}`;

    it.each([
      ['a NUL in a string field', nulReference, 'reference'],
      ['a lone surrogate in the payload', surrogatePayload, 'payload'],
      ['a lone surrogate in a payload key', surrogateKey, 'payload'],
    ])('refuses %s with 400 at its path, through the gateway and over NATS', async (_name, text, path) => {
      expect(await http('POST', '/v1/requests', text)).toMatchObject({ status: 400, code: 'VALIDATION_FAILED', paths: [path] });
      expect(await nats(RpcSubjects.requestCreate, text)).toMatchObject({ code: 'VALIDATION_FAILED', paths: [path] });
    });

    it('refuses a NUL in a path value (a worker name) and in a query value', async () => {
      expect(await http('POST', '/v1/workers/ana%00/heartbeat', { pools: [POOL] })).toMatchObject({ status: 400, code: 'VALIDATION_FAILED', paths: ['worker'] });
      expect(await http('GET', `/v1/tasks?worker=a%00&pool=${POOL}`)).toMatchObject({ status: 400, code: 'VALIDATION_FAILED', paths: ['worker'] });
      expect(await http('GET', '/v1/requests?reference=a%00')).toMatchObject({ status: 400, code: 'VALIDATION_FAILED', paths: ['reference'] });
    });

    it('refuses a path that does not decode as UTF-8 (a lone surrogate cannot be written in a URL) with 400', async () => {
      expect(await http('GET', '/v1/plans/%ED%A0%80')).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
      expect(await http('GET', '/v1/plans/%E0%A4%A')).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
    });

    it('refuses a lone surrogate in a YAML plan, after YAML unescapes it', async () => {
      const yaml = `id: ${PLAN}_yaml\ntitle: "bad \\ud800"\nsteps:\n  - { id: a, pool: ${POOL} }\n`;
      expect(await http('POST', '/v1/plans', yaml, 'application/yaml')).toMatchObject({ status: 400, code: 'VALIDATION_FAILED', paths: ['title'] });
      expect(await nats(RpcSubjects.planRegister, JSON.stringify({ yaml }))).toMatchObject({ code: 'VALIDATION_FAILED', paths: ['title'] });
    });
  });

  describe('numbers past int4 or the timestamp range, and negative ones', () => {
    const planWith = (step: Record<string, unknown>) => ({ id: 'numbers', steps: [{ id: 'a', pool: POOL, ...step }] });

    it.each([
      ['a step priority past int4', planWith({ priority: INT4_MAX + 1 }), 'steps[0].priority'],
      ['a negative step priority past int4', planWith({ priority: -INT4_MAX - 2 }), 'steps[0].priority'],
      ['a step lease past int4', planWith({ leaseSeconds: INT4_MAX + 1 }), 'steps[0].leaseSeconds'],
      ['a negative step lease', planWith({ leaseSeconds: -1 }), 'steps[0].leaseSeconds'],
      ['a backoff past int4', planWith({ retry: { attempts: 2, backoffSeconds: INT4_MAX + 1 } }), 'steps[0].retry.backoffSeconds'],
      ['a negative backoff', planWith({ retry: { attempts: 2, backoffSeconds: -1 } }), 'steps[0].retry.backoffSeconds'],
      ['a step SLA past the timestamp range', planWith({ slaMinutes: 1e300 }), 'steps[0].slaMinutes'],
      ['a negative step SLA', planWith({ slaMinutes: -1 }), 'steps[0].slaMinutes'],
    ])('refuses a plan with %s (400 at its path)', async (_name, plan, path) => {
      expect(await http('POST', '/v1/plans', plan)).toMatchObject({ status: 400, code: 'VALIDATION_FAILED', paths: [path] });
      expect(await nats(RpcSubjects.planRegister, JSON.stringify({ definition: plan }))).toMatchObject({ code: 'VALIDATION_FAILED', paths: [path] });
    });

    it.each([
      ['a request SLA past the timestamp range', 'POST', '/v1/requests', { plan: PLAN, slaMinutes: 1e300 }, RpcSubjects.requestCreate, { plan: PLAN, slaMinutes: 1e300 }, 'slaMinutes'],
      ['a negative request SLA', 'POST', '/v1/requests', { plan: PLAN, slaMinutes: -1 }, RpcSubjects.requestCreate, { plan: PLAN, slaMinutes: -1 }, 'slaMinutes'],
      ['a request priority past int4', 'POST', '/v1/requests', { plan: PLAN, priority: INT4_MAX + 1 }, RpcSubjects.requestCreate, { plan: PLAN, priority: INT4_MAX + 1 }, 'priority'],
      ['a lease past int4', 'POST', `/v1/pools/${POOL}/lease`, { worker: 'w', leaseSeconds: INT4_MAX + 1 }, RpcSubjects.taskLease, { pool: POOL, worker: 'w', leaseSeconds: INT4_MAX + 1 }, 'leaseSeconds'],
      ['a negative lease', 'POST', `/v1/pools/${POOL}/lease`, { worker: 'w', leaseSeconds: -1 }, RpcSubjects.taskLease, { pool: POOL, worker: 'w', leaseSeconds: -1 }, 'leaseSeconds'],
      ['a pool SLA past int4', 'PUT', `/v1/pools/${POOL}`, { kind: 'human', slaMinutes: INT4_MAX + 1 }, RpcSubjects.poolUpsert, { pool: POOL, kind: 'human', slaMinutes: INT4_MAX + 1 }, 'slaMinutes'],
      ['an escalation delay past int4', 'PUT', `/v1/pools/${POOL}`, { kind: 'human', escalation: { afterMinutes: INT4_MAX + 1 } }, RpcSubjects.poolUpsert, { pool: POOL, kind: 'human', escalation: { afterMinutes: INT4_MAX + 1 } }, 'escalation.afterMinutes'],
      ['a negative escalation delay', 'PUT', `/v1/pools/${POOL}`, { kind: 'human', escalation: { afterMinutes: -1 } }, RpcSubjects.poolUpsert, { pool: POOL, kind: 'human', escalation: { afterMinutes: -1 } }, 'escalation.afterMinutes'],
    ] as const)('refuses %s (400 at its path)', async (_name, method, path, body, subject, message, field) => {
      expect(await http(method, path, body)).toMatchObject({ status: 400, code: 'VALIDATION_FAILED', paths: [field] });
      expect(await nats(subject, JSON.stringify(message))).toMatchObject({ code: 'VALIDATION_FAILED', paths: [field] });
    });

    it.each([
      ['past int4', String(INT4_MAX + 1)],
      ['far past int4', '99999999999999999999'],
      ['negative', '-1'],
    ])('refuses a plan version in the path %s (400 at version)', async (_name, version) => {
      expect(await http('GET', `/v1/plans/${PLAN}/versions/${version}`)).toMatchObject({ status: 400, code: 'VALIDATION_FAILED', paths: ['version'] });
      expect(await nats(RpcSubjects.planGet, JSON.stringify({ id: PLAN, version: Number(version) }))).toMatchObject({ code: 'VALIDATION_FAILED', paths: ['version'] });
    });

    it.each([
      ['past int4', String(INT4_MAX + 1)],
      ['negative', '-1'],
      ['in exponent form', '1e9'],
    ])('refuses a history cursor %s (400 at cursor)', async (_name, cursor) => {
      expect(await http('GET', `/v1/requests/${requestId}/history?cursor=${cursor}`)).toMatchObject({ status: 400, code: 'VALIDATION_FAILED', paths: ['cursor'] });
      expect(await nats(RpcSubjects.requestHistory, JSON.stringify({ id: requestId, cursor }))).toMatchObject({ code: 'VALIDATION_FAILED', paths: ['cursor'] });
    });

    it('refuses a list cursor whose time is outside the timestamp range (400 at cursor)', async () => {
      const cursor = Buffer.from(JSON.stringify(['+275760-09-13T00:00:00.000Z', requestId])).toString('base64url');
      expect(await http('GET', `/v1/tasks?cursor=${cursor}`)).toMatchObject({ status: 400, code: 'VALIDATION_FAILED', paths: ['cursor'] });
      expect(await nats(RpcSubjects.taskList, JSON.stringify({ cursor }))).toMatchObject({ code: 'VALIDATION_FAILED', paths: ['cursor'] });
    });
  });

  describe('huge ids', () => {
    const huge = 'p'.repeat(5000);

    it.each([
      ['a plan id in the path', 'GET', `/v1/plans/${huge}`, undefined, RpcSubjects.planGet, { id: huge }, 'id'],
      ['a pool id in the path', 'PUT', `/v1/pools/${huge}`, { kind: 'human' }, RpcSubjects.poolUpsert, { pool: huge, kind: 'human' }, 'pool'],
      ['a plan id in the body', 'POST', '/v1/requests', { plan: huge }, RpcSubjects.requestCreate, { plan: huge }, 'plan'],
      ['a task id in the path', 'GET', `/v1/tasks/${huge}`, undefined, RpcSubjects.taskGet, { id: huge }, 'id'],
    ] as const)('refuses %s of 5,000 characters (400 at its path)', async (_name, method, path, body, subject, message, field) => {
      expect(await http(method, path, body)).toMatchObject({ status: 400, code: 'VALIDATION_FAILED', paths: [field] });
      expect(await nats(subject, JSON.stringify(message))).toMatchObject({ code: 'VALIDATION_FAILED', paths: [field] });
    });
  });

  describe('content types', () => {
    /** A raw call whose answer may be a success: only its status and error code are read. */
    async function call(method: string, path: string, body: string, contentType: string): Promise<{ status: number; code?: ErrorCode; paths: string[] }> {
      const response = await fetch(`${env.stack.gatewayUrl}${path}`, { method, headers: { authorization: `Bearer ${env.stack.managerToken}`, 'content-type': contentType }, body });
      const json = (await response.json()) as { error?: { code: ErrorCode; details?: Array<{ path: string }> } };
      return { status: response.status, code: json.error?.code, paths: (json.error?.details ?? []).map((d) => d.path) };
    }

    // Fastify alone answers an empty JSON body 400 and an unknown type 415, and reads text/plain
    // as a string; the API reads them as it always has (configure-http.ts).
    it('reads an empty JSON body as no fields: a call that needs none succeeds, one that needs fields is refused at them', async () => {
      const { id } = await env.manager.requests.create({ plan: PLAN });
      expect(await call('POST', `/v1/requests/${id}/cancel`, '', 'application/json')).toMatchObject({ status: 200 });
      expect(await call('POST', '/v1/requests', '', 'application/json')).toMatchObject({ status: 400, code: 'VALIDATION_FAILED', paths: ['plan'] });
    });

    it('passes a body of any other type on unread, so it is answered as a call without one', async () => {
      const { id } = await env.manager.requests.create({ plan: PLAN });
      expect(await call('POST', `/v1/requests/${id}/cancel`, 'a,b', 'text/csv')).toMatchObject({ status: 200 });
      for (const type of ['text/plain', 'text/csv', 'application/octet-stream']) {
        expect(await call('POST', '/v1/requests', JSON.stringify({ plan: PLAN }), type)).toMatchObject({ status: 400, code: 'VALIDATION_FAILED', paths: ['plan'] });
      }
    });

    it('refuses JSON whose top is not an object or an array as not JSON, and a scalar plan or request as not an object', async () => {
      for (const text of ['"text"', 'null', '   ']) expect(await call('POST', '/v1/requests', text, 'application/json')).toMatchObject({ status: 400, code: 'VALIDATION_FAILED', paths: [] });
      expect(await call('POST', '/v1/requests', '[1]', 'application/json')).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
    });
  });

  describe('sizes', () => {
    it('answers a payload over 256 KiB with 413 at payload', async () => {
      const body = { plan: PLAN, payload: { blob: 'x'.repeat(300 * 1024) } };
      expect(await http('POST', '/v1/requests', body)).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE', paths: ['payload'] });
      expect(await nats(RpcSubjects.requestCreate, JSON.stringify(body))).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', paths: ['payload'] });
    });

    it('answers a body over the gateway limit with 413, including one just under 1 MiB (never 503)', async () => {
      for (const size of [600 * 1024, 1024 * 1024 - 100]) {
        const refusal = await http('POST', '/v1/requests', { plan: PLAN, payload: { blob: 'x'.repeat(size) } });
        expect(refusal).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
      }
    });

    it('refuses JSON nested 50,000 deep with 400 at its field, through the gateway and over NATS', async () => {
      const text = `{"plan":"${PLAN}","payload":${deepJson(50_000)}}`;
      expect(await http('POST', '/v1/requests', text)).toMatchObject({ status: 400, code: 'VALIDATION_FAILED', paths: ['payload'], messages: ['nests deeper than 64 levels'] });
      expect(await nats(RpcSubjects.requestCreate, text)).toMatchObject({ code: 'VALIDATION_FAILED', paths: ['payload'], messages: ['nests deeper than 64 levels'] });
    });

    it('refuses a YAML plan nested 50,000 deep with 400 at yaml', async () => {
      const yaml = `id: deep\nsteps: ${'['.repeat(50_000)}${']'.repeat(50_000)}\n`;
      expect(await http('POST', '/v1/plans', yaml, 'application/yaml')).toMatchObject({ status: 400, code: 'VALIDATION_FAILED', paths: ['yaml'], messages: ['nests deeper than 64 levels'] });
      expect(await nats(RpcSubjects.planRegister, JSON.stringify({ yaml }))).toMatchObject({ code: 'VALIDATION_FAILED', paths: ['yaml'] });
    });

    it('refuses malformed JSON with 400', async () => {
      expect(await http('POST', '/v1/requests', '{"plan": "x",')).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
      expect(await nats(RpcSubjects.requestCreate, '{"plan": "x",')).toMatchObject({ code: 'VALIDATION_FAILED' });
    });

    it('refuses a 5,000-step plan with 400 naming the plan steps limit', async () => {
      const plan = { id: 'huge_plan', steps: Array.from({ length: 5000 }, (_, i) => ({ id: `s${i}`, pool: POOL })) };
      const throughGateway = await http('POST', '/v1/plans', plan);
      expect(throughGateway.status).toBe(400);
      for (const refusal of [throughGateway, await nats(RpcSubjects.planRegister, JSON.stringify({ definition: plan }))]) {
        expect(refusal).toMatchObject({ code: 'VALIDATION_FAILED', paths: ['steps'] });
        expect(refusal.messages[0]).toMatch(/at most 200 \(the plan steps limit/);
      }
    });
  });

  it('still serves well-formed work after all of it', async () => {
    const created = await env.manager.requests.create({ plan: PLAN, payload: { name: 'Łódź 👍' } });
    expect((await env.manager.requests.get(created.id)).payload).toEqual({ name: 'Łódź 👍' });
  });
});
