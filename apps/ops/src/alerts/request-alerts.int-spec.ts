import { randomUUID } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { EventStream, type Actor, type AlertView, type EventDataMap, type EventType, type HmsEvent } from '@hms/contracts';
import { bootstrapService, loadConfig, RpcClient } from '@hms/platform';
import { followEvents, freshTestEnvironment, recordStatements, TestNatsParts } from '@hms/testing';
import { createOpsModule } from '../ops.module';
import { OpsConfig } from '../ops.config';

jest.setTimeout(60_000);

const manager: Actor = { id: 'test-manager', roles: ['manager'] };

/**
 * OPS in-process, fed ACT's request events through real JetStream: a late request raises one
 * alert (in the `ops-requests` consumer's transaction), and its end resolves it with
 * `ops.alert.resolved` in one statement that also claims the event, with no transaction.
 */
describe('OPS alerts of late requests', () => {
  let env: Awaited<ReturnType<typeof freshTestEnvironment>>;
  let parts: TestNatsParts;
  let rpc: RpcClient;
  let ops: INestApplication | undefined;
  let follower: { stop(): void } | undefined;
  const resolvedEvents: Array<HmsEvent<'ops.alert.resolved'>> = [];

  beforeAll(async () => {
    env = await freshTestEnvironment('ops_request_alerts');
    parts = new TestNatsParts(env.natsUrl, env.subjectPrefix, 'ops-requests-test');
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
    // ACT reads the whole stream; its user follows OPS's alert events here.
    const following = followEvents(await parts.as('act'), `${EventStream.subjectOf('ops.alert.resolved')}`, (event) => resolvedEvents.push(event as HmsEvent<'ops.alert.resolved'>));
    follower = following;
    await following.ready;
  });

  afterAll(async () => {
    follower?.stop();
    await ops?.close();
    await parts?.close();
    await env?.dispose();
  });

  const requestEvent = <T extends EventType>(type: T, requestId: string, data: EventDataMap[T]): HmsEvent<T> => ({
    id: randomUUID(),
    type,
    at: new Date().toISOString(),
    actor: 'system:act',
    requestId,
    source: 'act',
    data,
  });

  async function alertOf(requestId: string, status: AlertView['status']): Promise<AlertView> {
    for (;;) {
      const [alert] = (await rpc.call('ops.alert.list', { requestId }, { actor: manager })).items;
      if (alert?.status === status) return alert;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  async function lateRequest(): Promise<string> {
    const requestId = randomUUID();
    await parts.publish(requestEvent('act.request.sla-breached', requestId, { plan: 'p', slaDueAt: new Date().toISOString() }));
    await alertOf(requestId, 'open');
    return requestId;
  }

  it('resolves the alerts of ended requests in one statement with no transaction, each once even when redelivered', async () => {
    const [first, second] = [await lateRequest(), await lateRequest()];
    const completed = requestEvent('act.request.completed', first, { plan: 'p' });
    const cancelled = requestEvent('act.request.cancelled', second, { plan: 'p', reason: 'no longer needed' });
    const statements = recordStatements();
    try {
      await parts.publish(completed);
      await parts.publish(cancelled);
      await alertOf(first, 'resolved');
      await alertOf(second, 'resolved');
    } finally {
      statements.stop();
    }
    // One claim statement per batch (the two may arrive together or apart), none in a transaction.
    const claims = statements.texts.filter((text) => text.includes('INSERT INTO "ops"."processed_events"'));
    expect(claims.length).toBeGreaterThanOrEqual(1);
    expect(claims.length).toBeLessThanOrEqual(2);
    expect(claims.every((text) => text.includes('UPDATE "ops"."alerts"'))).toBe(true);
    expect(statements.transactions('"ops"."processed_events"')).toBe(0);
    expect(await alertOf(first, 'resolved')).toMatchObject({ resolution: 'request completed', resolvedBy: 'system:ops' });
    expect(await alertOf(second, 'resolved')).toMatchObject({ resolution: 'request cancelled' });

    // The end again (a relay that published it twice): claimed before, so nothing is resolved or emitted again.
    await parts.publish(completed, { msgID: `${completed.id}-again` });
    const marker = await lateRequest();
    await parts.publish(requestEvent('act.request.failed', marker, { plan: 'p', stepId: 's', reason: 'x' }));
    await alertOf(marker, 'resolved');
    for (;;) {
      if (resolvedEvents.some((event) => event.requestId === marker)) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(resolvedEvents.filter((event) => event.requestId === first).map((event) => event.data)).toEqual([
      { alertId: (await alertOf(first, 'resolved')).id, kind: 'request-sla-breached', resolution: 'request completed' },
    ]);
    expect(resolvedEvents.filter((event) => event.requestId === second)).toHaveLength(1);
    expect(resolvedEvents.find((event) => event.requestId === first)).toMatchObject({ actor: 'system:ops', source: 'ops', type: 'ops.alert.resolved' });
  });
});
