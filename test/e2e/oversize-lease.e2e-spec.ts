import { HmsApiError, HmsClient } from '@hms/client';
import { startNatsServer, testNatsAuth } from '@hms/testing';
import { startE2eStack, waitUntil } from './support/e2e-stack';

/** A small NATS `max_payload`: three ~25 KB tasks do not fit in one answer, as three ~400 KB ones do not under the default 1 MiB. */
const MAX_PAYLOAD = 64 * 1024;

const payloadOf = (bytes: number) => ({ blob: 'x'.repeat(bytes) });

/**
 * A worker asks for three tasks whose payloads together exceed what NATS carries in one message.
 * OMS used to lease all three and then die sending the answer (the tasks stayed leased, and the
 * next lease of the pool killed it again); now the worker gets the ones that fit, the rest wait
 * for the next call, and OMS keeps answering.
 */
describe('An oversized lease through the gateway', () => {
  let nats: { url: string; stop(): Promise<void> };
  let env: Awaited<ReturnType<typeof startE2eStack>>;

  beforeAll(async () => {
    // With the run's users, as every server of the suite.
    nats = await startNatsServer({ maxPayload: MAX_PAYLOAD, auth: testNatsAuth() });
    env = await startE2eStack('e2e_oversize_lease', { NATS_URL: nats.url });
    await env.manager.plans.register({
      id: 'scans',
      // A named input, so each task carries the payload once (a default input would hold it again).
      steps: [
        { id: 'front', pool: 'scanning', input: { side: '"front"' } },
        { id: 'back', pool: 'scanning', after: [], input: { side: '"back"' } },
        { id: 'cover', pool: 'scanning', after: [], input: { side: '"cover"' } },
      ],
    });
  });

  afterAll(async () => {
    await env?.dispose();
    await nats?.stop();
  });

  it('answers 200 with the tasks that fit, leaves the rest queued, and OMS keeps serving', async () => {
    const { stack, manager } = env;
    const request = await manager.requests.create({ plan: 'scans', payload: payloadOf(25_000) });
    await waitUntil(async () => (await manager.pools.peek('scanning')).depth === 3);

    const worker = new HmsClient({ baseUrl: stack.gatewayUrl, token: await stack.workerToken(['scanning'], 'scanner-1') });
    const first = await worker.tasks.lease('scanning', { worker: 'scanner-1', max: 3 });
    expect(first.tasks).toHaveLength(2);
    expect(first.tasks.every((task) => task.payload.blob === payloadOf(25_000).blob)).toBe(true);
    expect((await manager.pools.peek('scanning')).depth).toBe(1);

    const second = await worker.tasks.lease('scanning', { worker: 'scanner-1', max: 3 });
    expect(second.tasks).toHaveLength(1);
    for (const task of [...first.tasks, ...second.tasks]) await worker.tasks.complete(task.id, task.leaseToken, { scanned: true });
    expect((await manager.requests.waitFor(request.id, { timeoutMs: 20_000, intervalMs: 100 })).status).toBe('completed');
  });

  it('answers 413, not 503, for a request whose payload NATS could not carry on', async () => {
    const refused = await env.manager.requests.create({ plan: 'scans', payload: payloadOf(55_000) }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(HmsApiError);
    expect(refused).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
    const tooLargeToSend = await env.manager.requests.create({ plan: 'scans', payload: payloadOf(70_000) }).catch((error: unknown) => error);
    expect(tooLargeToSend).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
    expect((await env.manager.pools.peek('scanning')).depth).toBe(0);
  });
});
