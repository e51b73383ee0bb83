import { randomUUID } from 'node:crypto';
import { EventStream, type HmsEvent } from '@hms/contracts';
import { HmsApiError, HmsClient } from '@hms/client';
import type { NatsBus } from '@hms/platform';
import { startE2eStack, waitUntil } from './support/e2e-stack';

async function failure(call: Promise<unknown>): Promise<HmsApiError> {
  const error = await call.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(HmsApiError);
  return error as HmsApiError;
}

/**
 * An `act.step.ready` that OMS can never store (a NUL in its payload, which Postgres's jsonb
 * refuses), put on the stream straight over NATS as a buggy or hostile publisher would: OMS
 * parks it after its delivery limit, OPS raises an alert, the work behind it flows, and a
 * manager lists it and replays it through the gateway.
 */
describe('Parked events through the gateway', () => {
  let env: Awaited<ReturnType<typeof startE2eStack>>;
  let bus: NatsBus;

  beforeAll(async () => {
    // Redeliveries 20, 40, 80, 160 ms apart instead of 0.5 to 4 s.
    env = await startE2eStack('e2e_parked', { HMS_EVENT_RETRY_BASE_MS: '10' });
    // The poison comes as ACT's own event would: on ACT's user, the one allowed to publish it.
    bus = await env.connectAs('act', 'e2e-poison-publisher');
  });

  afterAll(async () => {
    await bus?.close();
    await env?.dispose();
  });

  it('parks a poison event while later work flows, raises an alert, and lets managers (only) list and replay it', async () => {
    const { manager } = env;
    const requestId = randomUUID();
    const poison: HmsEvent<'act.step.ready'> = {
      id: randomUUID(),
      type: 'act.step.ready',
      at: new Date().toISOString(),
      actor: 'e2e',
      requestId,
      source: 'act',
      data: { stepId: 'scan', pool: 'poison_desk', title: 'Scan', tags: [], priority: 0, payload: { note: 'a\u0000b' }, leaseSeconds: null, slaMinutes: null, retry: null },
    };
    await bus.jetstream.publish(bus.subject(EventStream.subjectOf(poison.type)), JSON.stringify(poison), { msgID: poison.id });

    // Work published after it is queued and leased as usual.
    await manager.plans.register({ id: 'after_poison', steps: [{ id: 'check', pool: 'after_desk' }] });
    const request = await manager.requests.create({ plan: 'after_poison', payload: { n: 1 } });
    const worker = new HmsClient({ baseUrl: env.stack.gatewayUrl, token: await env.stack.workerToken(['after_desk'], 'ana') });
    const leased = await waitUntil(async () => (await worker.tasks.lease('after_desk', { worker: 'ana', waitSeconds: 2 })).tasks[0]);
    expect(leased.requestId).toBe(request.id);

    const parked = await waitUntil(async () => (await manager.parkedEvents.list('oms')).items.find((item) => item.eventId === poison.id));
    expect(parked).toMatchObject({ service: 'oms', consumer: 'oms', type: 'act.step.ready', subject: 'hms.evt.act.step.ready', requestId: poison.requestId, deliveryCount: 5 });
    expect(parked.data).toEqual(poison.data);
    expect(parked.lastError).toMatch(/unicode|\\u0000/i);

    const alert = await waitUntil(async () => (await manager.alerts.list({ requestId })).items.find((item) => item.kind === 'event-parked' && item.message.includes("oms's consumer 'oms'")));
    expect(alert).toMatchObject({ status: 'open', pool: null, escalationDueAt: null });
    expect(alert.message).toContain(poison.id);

    // Its cause is not fixed: the replay answers the new error, and it stays parked.
    const replay = await manager.parkedEvents.replay('oms', parked.id);
    expect(replay).toMatchObject({ replayed: false, parkedEvent: { id: parked.id, deliveryCount: 6 } });
    expect(replay.parkedEvent!.lastError).toMatch(/unicode|\\u0000/i);
    expect((await manager.parkedEvents.list('oms')).items.map((item) => item.id)).toContain(parked.id);

    // Managers only.
    const clerk = new HmsClient({ baseUrl: env.stack.gatewayUrl, token: await env.stack.workerToken(['after_desk'], 'clerk') });
    const service = new HmsClient({ baseUrl: env.stack.gatewayUrl, token: env.stack.serviceToken });
    for (const call of [clerk.parkedEvents.list('oms'), clerk.parkedEvents.replay('oms', parked.id), service.parkedEvents.replay('oms', parked.id)]) {
      expect(await failure(call)).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    }

    // Unknown ids: 404 in every form, from every service.
    for (const [svc, id] of [['oms', randomUUID()], ['act', parked.id], ['ops', 'not-a-uuid']] as const) {
      expect(await failure(manager.parkedEvents.replay(svc, id))).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    }

    // An id longer than any id, a service that is none of act, oms, ops, or none at all: 400 naming the field.
    expect(await failure(manager.parkedEvents.replay('oms', 'x'.repeat(5000)))).toMatchObject({ status: 400, code: 'VALIDATION_FAILED', details: [{ path: 'id' }] });
    const badService = await fetch(`${env.stack.gatewayUrl}/v1/parked-events?service=gateway`, { headers: { authorization: `Bearer ${env.stack.managerToken}` } });
    expect(badService.status).toBe(400);
    expect(await badService.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED', details: [{ path: 'service' }] }, requestId: expect.any(String) });
    for (const call of [
      manager.http.send({ method: 'GET', path: '/v1/parked-events' }),
      manager.http.send({ method: 'GET', path: '/v1/parked-events', query: { service: 'oms', limit: 0 } }),
      manager.http.send({ method: 'GET', path: '/v1/parked-events', query: { service: 'oms', cursor: 'garbage' } }),
      manager.http.send({ method: 'POST', path: '/v1/parked-events/nats/x/replay', json: {} }),
    ]) {
      expect(await failure(call)).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
    }

    const openApi = (await (await fetch(`${env.stack.gatewayUrl}/docs/openapi.json`)).json()) as { paths: Record<string, Record<string, { parameters?: Array<{ name: string }> }>> };
    expect(openApi.paths['/v1/parked-events']!.get!.parameters!.map((p) => p.name).sort()).toEqual(['cursor', 'limit', 'service']);
    expect(Object.keys(openApi.paths['/v1/parked-events/{service}/{id}/replay']!)).toEqual(['post']);
  });
});
