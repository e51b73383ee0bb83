import { randomUUID } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { type Actor, type AlertView, type EventDataMap, type EventType, type HmsEvent } from '@hms/contracts';
import { bootstrapService, loadConfig, RpcClient } from '@hms/platform';
import { freshTestEnvironment, TestNatsParts } from '@hms/testing';
import { createOpsModule } from '../ops.module';
import { OpsConfig } from '../ops.config';

jest.setTimeout(60_000);

const manager: Actor = { id: 'test-manager', roles: ['manager'] };

/**
 * OPS in-process, fed `platform.event.*` through real JetStream: a parked event raises one
 * `event-parked` alert, its replay resolves it, and a malformed or hostile parking event can
 * neither poison OPS's consumer nor stop the alerts behind it.
 */
describe('OPS alerts of parked events', () => {
  let env: Awaited<ReturnType<typeof freshTestEnvironment>>;
  /** The gateway (calls) and OMS (its parking events), each as its NATS user. */
  let parts: TestNatsParts;
  let rpc: RpcClient;
  let ops: INestApplication | undefined;

  beforeAll(async () => {
    env = await freshTestEnvironment('ops_parked_alerts');
    parts = new TestNatsParts(env.natsUrl, env.subjectPrefix, 'ops-parked-test');
    rpc = new RpcClient(await parts.as('gateway'));
    const config = loadConfig(OpsConfig, {
      DATABASE_URL: env.databaseUrl,
      NATS_URL: env.natsUrl,
      HMS_SUBJECT_PREFIX: env.subjectPrefix,
      HMS_EVENT_RETRY_BASE_MS: '5',
      LOG_LEVEL: 'silent',
      PORT: '0',
      ...parts.serviceEnv('ops'),
    });
    ops = await bootstrapService(createOpsModule(config), { port: 0 });
  });

  afterAll(async () => {
    await ops?.close();
    await parts?.close();
    await env?.dispose();
  });

  async function publish<T extends EventType>(type: T, requestId: string | null, data: EventDataMap[T]): Promise<void> {
    const event: HmsEvent<T> = { id: randomUUID(), type, at: new Date().toISOString(), actor: 'system:oms', requestId, source: 'oms', data };
    await parts.publish(event);
  }

  async function alertOf(requestId: string, status: AlertView['status']): Promise<AlertView> {
    for (;;) {
      const [alert] = (await rpc.call('ops.alert.list', { requestId }, { actor: manager })).items;
      if (alert?.status === status) return alert;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it('raises one alert per parked event, survives malformed ones, and resolves the alert when the event is replayed', async () => {
    // Hostile first: no data at all, a parkedId that is no uuid, and a huge error full of NULs.
    await parts.publish({ id: randomUUID(), type: 'platform.event.parked', at: new Date().toISOString(), actor: 'x', requestId: null, source: 'oms', data: null } as unknown as HmsEvent);
    const hostileRequest = randomUUID();
    await publish('platform.event.parked', hostileRequest, { service: 'oms', consumer: 'oms', parkedId: 'nope', eventId: randomUUID(), eventType: 'act.step.ready', deliveries: 5, error: 'x' });
    const noisyRequest = randomUUID();
    const noisy = { service: 'oms' as const, consumer: 'oms', parkedId: randomUUID(), eventId: randomUUID(), eventType: 'act.step.\u0000ready', deliveries: 5, error: `\u0000\ud800${'boom '.repeat(20_000)}` };
    await publish('platform.event.parked', noisyRequest, noisy);

    const requestId = randomUUID();
    const parked = { service: 'oms' as const, consumer: 'oms', parkedId: randomUUID(), eventId: randomUUID(), eventType: 'act.step.ready', deliveries: 5, error: 'invalid input syntax for type json' };
    await publish('platform.event.parked', requestId, parked);
    await publish('platform.event.parked', requestId, parked); // a repeat (another id) raises nothing more

    const raised = await alertOf(requestId, 'open');
    expect(raised).toMatchObject({ kind: 'event-parked', pool: null, taskId: null, escalationDueAt: null });
    expect(raised.message).toBe(`Event act.step.ready (${parked.eventId}) was parked by oms's consumer 'oms' after 5 failed deliveries: invalid input syntax for type json`);
    const noisyAlert = await alertOf(noisyRequest, 'open');
    expect(noisyAlert.message).toContain('act.step.\uFFFDready');
    expect(noisyAlert.message).toContain(': \uFFFD\uFFFDboom boom');
    expect(noisyAlert.message.length).toBeLessThan(1000);
    expect((await rpc.call('ops.alert.list', { requestId: hostileRequest }, { actor: manager })).items).toEqual([]);

    await publish('platform.event.replayed', requestId, { service: 'oms', consumer: 'oms', parkedId: parked.parkedId, eventId: parked.eventId, eventType: parked.eventType });
    const resolved = await alertOf(requestId, 'resolved');
    expect(resolved).toMatchObject({ id: raised.id, resolution: 'event replayed by system:oms' });
    expect((await rpc.call('ops.alert.list', { requestId }, { actor: manager })).items).toHaveLength(1);

    // Nothing of this was bad enough for OPS to park.
    expect(await rpc.call('ops.parked-event.list', {}, { actor: manager })).toEqual({ items: [], nextCursor: null });
  });
});
