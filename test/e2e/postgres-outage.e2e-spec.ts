import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HmsClient } from '@hms/client';
import { DomainError } from '@hms/contracts';
import { RpcClient } from '@hms/platform';
import { connectTestBus, createDatabase, startEmbeddedPostgres, startStack, testInfra, testNatsAuth, uniqueSubjectPrefix, type ServiceExit, type Stack } from '@hms/testing';
import { examplePlan, waitUntil, workPool } from './support/e2e-stack';

type EmbeddedServer = Awaited<ReturnType<typeof startEmbeddedPostgres>>;

async function health(url: string, probe: 'live' | 'ready'): Promise<number> {
  return (await fetch(`${url}/health/${probe}`)).status;
}

/**
 * DESIGN's "work resumes by itself when the part comes back", for Postgres: it is stopped under
 * load and started again. Meanwhile calls are answered (503 + Retry-After), readiness says not
 * ready, and no service exits; afterwards the same processes take requests and finish them.
 * The stack gets a Postgres of its own (this file stops it), and the shared NATS.
 */
describe('Postgres outage under load', () => {
  let postgres: EmbeddedServer;
  let dataRoot: string;
  let stack: Stack;
  const exits: Array<{ service: string; exit: ServiceExit }> = [];
  const outputSinceOutage: string[] = [];
  let outage = false;

  beforeAll(async () => {
    dataRoot = mkdtempSync(join(tmpdir(), 'hms-outage-'));
    postgres = await startEmbeddedPostgres({ dataDir: join(dataRoot, 'postgres'), persistent: false });
    const databaseUrl = await createDatabase(postgres.adminUrl, 'hms_outage');
    stack = await startStack({
      databaseUrl,
      natsUrl: testInfra().natsUrl,
      natsAuth: testNatsAuth(),
      subjectPrefix: uniqueSubjectPrefix('outage'),
      env: { OMS_LEASE_SWEEP_MS: '200', LOG_LEVEL: 'info' },
      onOutput: (_, text) => {
        if (outage) outputSinceOutage.push(text);
      },
    });
    for (const service of Object.values(stack.services)) service.onExit((exit) => exits.push({ service: service.name, exit }));
  });

  afterAll(async () => {
    await stack?.stop();
    await postgres?.stop();
    rmSync(dataRoot, { recursive: true, force: true });
  });

  it('answers 503 with Retry-After while Postgres is down, keeps every process, and resumes by itself', async () => {
    const manager = new HmsClient({ baseUrl: stack.gatewayUrl, token: stack.managerToken });
    await manager.plans.register(examplePlan('disaster-voucher.plan.yaml'));
    // A lease granted as Postgres stops, or whose completion is refused during the outage, is
    // dropped by its worker (workPool) and comes back when it expires: short leases.
    for (const pool of ['hud_case_workers', 'fema_inspectors', 'payments']) {
      await manager.pools.put(pool, { kind: pool === 'payments' ? 'bot' : 'human', leaseSeconds: 3 });
    }
    // A worker token is its own worker (its sub): one token per worker.
    const crew = async (worker: string, pool: string) => new HmsClient({ baseUrl: stack.gatewayUrl, token: await stack.workerToken([pool], worker) });
    const pids = Object.values(stack.services).map((service) => service.pid);
    const backends = [stack.services.act, stack.services.oms, stack.services.ops];

    let done = false;
    let filing = true;
    const workers = [
      workPool({ client: await crew('w1', 'hud_case_workers'), pool: 'hud_case_workers', worker: 'w1', tags: ['income_check'], output: () => ({ eligible: true }), until: () => done }),
      workPool({ client: await crew('w2', 'fema_inspectors'), pool: 'fema_inspectors', worker: 'w2', output: () => ({ ok: true }), until: () => done }),
      workPool({ client: await crew('w3', 'payments'), pool: 'payments', worker: 'w3', output: () => ({ paid: true }), until: () => done }),
    ];
    const accepted: string[] = [];
    const refused: string[] = [];
    let filerFailure: unknown;
    /** Surfaces an answer other than success or UNAVAILABLE at once, instead of as a wait that never ends. */
    const filerOk = () => {
      if (filerFailure) throw filerFailure;
      return true;
    };
    // A client that keeps filing requests through the outage, as real ones would.
    const filer = (async () => {
      while (filing) {
        try {
          accepted.push((await manager.requests.create({ plan: 'disaster_voucher', payload: { n: accepted.length } })).id);
        } catch (error) {
          const code = (error as { code?: string }).code;
          if (code !== 'UNAVAILABLE') {
            filerFailure = error;
            throw error;
          }
          refused.push(code);
          await new Promise((resolve) => setTimeout(resolve, 50)); // pacing, not a wait for anything
        }
      }
    })();

    try {
      // Under load: requests flowing through all three pools.
      await waitUntil(async () => filerOk() && accepted.length >= 5);
      const acceptedBefore = accepted.length;

      outage = true;
      await postgres.server.stop();

      const response = await fetch(`${stack.gatewayUrl}/v1/requests`, {
        method: 'POST',
        headers: { authorization: `Bearer ${stack.managerToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ plan: 'disaster_voucher', payload: { during: 'outage' } }),
      });
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('1');
      expect(await response.json()).toMatchObject({ error: { code: 'UNAVAILABLE', message: expect.stringMatching(/database/i) }, requestId: expect.any(String) });
      const read = await fetch(`${stack.gatewayUrl}/v1/pools/payments`, { headers: { authorization: `Bearer ${stack.managerToken}` } });
      expect([read.status, read.headers.get('retry-after')]).toEqual([503, '1']);
      // Straight over NATS, past the gateway: the same retryable answer, not INTERNAL.
      const bus = await connectTestBus(testInfra().natsUrl, stack.subjectPrefix, 'e2e-outage-caller', 'gateway', stack.actorKey);
      try {
        const direct = await new RpcClient(bus).call('oms.pool.get', { pool: 'payments' }, { actor: { id: 'service@hms', roles: ['service'] } }).catch((error: unknown) => error);
        expect(direct).toBeInstanceOf(DomainError);
        expect(direct).toMatchObject({ code: 'UNAVAILABLE', retryable: true });
      } finally {
        await bus.close();
      }

      for (const service of backends) {
        expect([service.name, await health(service.url, 'ready')]).toEqual([service.name, 503]);
        expect([service.name, await health(service.url, 'live')]).toEqual([service.name, 200]);
      }
      // Every background job, consumer and relay meets the outage at its next tick; give them
      // a few ticks of the lease sweep (200 ms) to do so, then look at what they logged.
      await waitUntil(async () => filerOk() && refused.length >= 20 && outputSinceOutage.join('').split('Postgres is unavailable').length > 6);
      expect(exits).toEqual([]);

      await postgres.start();

      for (const service of backends) await waitUntil(async () => (await health(service.url, 'ready')) === 200);
      const acceptedAfter = accepted.length;
      await waitUntil(async () => filerOk() && accepted.length >= acceptedAfter + 5);
      filing = false;
      await filer;
      const finished = await Promise.all(accepted.map((id) => manager.requests.waitFor(id, { timeoutMs: 120_000, intervalMs: 250 })));
      expect(finished.map((request) => request.status)).toEqual(accepted.map(() => 'completed'));
      expect(accepted.length).toBeGreaterThan(acceptedBefore);
    } finally {
      filing = false;
      done = true;
      await filer.catch(() => undefined);
      await Promise.all(workers);
    }

    outage = false;
    expect(exits).toEqual([]);
    expect(Object.values(stack.services).map((service) => service.pid)).toEqual(pids);
    // One line per component when the outage starts and one when it ends (a job with a long
    // period may not have run again yet), never a stack per tick, event or call.
    const logged = outputSinceOutage.join('');
    const count = (text: string) => logged.split(text).length - 1;
    expect(count('Postgres is unavailable; retrying until it is back')).toBeGreaterThanOrEqual(3);
    expect(count('Postgres is back; resumed')).toBeGreaterThanOrEqual(3);
    expect(logged).not.toMatch(/"stack"/);
    expect(logged).not.toMatch(/^\s+at /m);
  });
});
