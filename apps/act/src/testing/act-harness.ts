import type { DomainError, RequestStatus, RequestView } from '@hms/contracts';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import {
  EventStream,
  type Actor,
  type EventDataMap,
  type EventSource,
  type EventType,
  type HmsEvent,
  type RpcRequest,
  type RpcResponse,
  type RpcSubject,
} from '@hms/contracts';
import { bootstrapService, loadConfig, RpcClient, type NatsBus } from '@hms/platform';
import { followEvents, freshTestEnvironment, TestNatsParts } from '@hms/testing';
import { Client } from 'pg';
import { ActConfig } from '../act.config';
import { createActModule } from '../act.module';

/** The actor tests call ACT as. */
export const TEST_ACTOR: Actor = { id: 'manager@hms', roles: ['manager'] };

/**
 * Events of one type stored on the stream from the moment `start` is called, read through
 * JetStream as a service reads them (no NATS user may subscribe to event subjects directly):
 * `bus` must be a service's.
 */
export class EventCollector<T extends EventType> {
  readonly events: Array<HmsEvent<T>> = [];
  private follower?: { stop(): void };
  /** Why the consumer could not be made (e.g. no stream yet), said by {@link waitFor}. */
  private failure?: Error;

  static start<T extends EventType>(bus: NatsBus, type: T): EventCollector<T> {
    const collector = new EventCollector<T>();
    const follower = followEvents(bus, EventStream.subjectOf(type), (event) => collector.events.push(event as HmsEvent<T>));
    follower.ready.catch((error: Error) => (collector.failure = error));
    collector.follower = follower;
    return collector;
  }

  /** Resolves with the first event (seen or to come) that matches. */
  async waitFor(predicate: (event: HmsEvent<T>) => boolean, timeoutMs = 10_000): Promise<HmsEvent<T>> {
    return eventually(() => {
      if (this.failure) throw new Error(`cannot read the events: ${this.failure.message}`);
      const found = this.events.find(predicate);
      if (!found) throw new Error('no matching event yet');
      return found;
    }, timeoutMs);
  }

  forRequest(requestId: string): Array<HmsEvent<T>> {
    return this.events.filter((event) => event.requestId === requestId);
  }

  stop(): void {
    this.follower?.stop();
  }
}

/** Retries `check` until it stops throwing (or the time is up, then its last error is thrown). */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 10_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}

/** ACT running in-process on a fresh database and subject prefix, and what tests need to drive it. */
export interface ActHarness {
  app: INestApplication;
  /** The harness's calls: the gateway's NATS user, actor headers signed with ACT's actor key. */
  bus: NatsBus;
  /** A connection as one of the services (its user, the harness's actor key), e.g. to publish its events. */
  busOf(service: EventSource): Promise<NatsBus>;
  databaseUrl: string;
  call<S extends RpcSubject>(subject: S, message: RpcRequest<S>, actor?: Actor): Promise<RpcResponse<S>>;
  /** Publishes an event to JetStream as another service would (the relay's way: msgID = event id). */
  publish<T extends EventType>(type: T, requestId: string | null, data: EventDataMap[T], options?: { actor?: string; id?: string }): Promise<HmsEvent<T>>;
  collect<T extends EventType>(type: T): EventCollector<T>;
  /** SQL as the database owner (superuser on the test server). */
  sql<R = Record<string, unknown>>(query: string, params?: unknown[]): Promise<R[]>;
  /** The URL of the role ACT works as (not the owner). */
  serviceDatabaseUrl: string;
  /** The folder ACT writes its signed ledger checkpoints to. */
  checkpointDir: string;
  close(): Promise<void>;
}

/**
 * ACT as deployed: it migrates as the owner and works as the service role, connects to NATS as
 * its own user and believes only actor headers signed with a key made for this harness, and signs
 * ledger checkpoints with a key made for this run (written only when a test calls for one).
 * `env.NATS_URL` points ACT, and the harness with it, at a NATS server of the test's own (e.g. one
 * with a small `max_payload`, started with the run's users).
 */
export async function startAct(label: string, env: Record<string, string> = {}): Promise<ActHarness> {
  const testEnv = await freshTestEnvironment(label);
  if (env.NATS_URL) testEnv.natsUrl = env.NATS_URL;
  // The harness plays the rest of the system, each part as its own NATS user: the gateway
  // calls, a service publishes its events and reads the stream.
  const parts = new TestNatsParts(testEnv.natsUrl, testEnv.subjectPrefix, `test-${label}`);
  const checkpointDir = mkdtempSync(join(tmpdir(), 'hms-checkpoints-'));
  const { privateKey } = generateKeyPairSync('ed25519');
  const config = loadConfig(ActConfig, {
    DATABASE_URL: testEnv.serviceDatabaseUrl,
    DATABASE_MIGRATION_URL: testEnv.databaseUrl,
    ACT_LEDGER_CHECKPOINT_DIR: checkpointDir,
    ACT_LEDGER_CHECKPOINT_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    ACT_LEDGER_CHECKPOINT_MS: '0',
    NATS_URL: testEnv.natsUrl,
    HMS_SUBJECT_PREFIX: testEnv.subjectPrefix,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    ...parts.serviceEnv('act'),
    ...env,
  });
  let app: INestApplication;
  try {
    app = await bootstrapService(createActModule(config), { port: 0 });
  } catch (error) {
    await testEnv.dispose();
    rmSync(checkpointDir, { recursive: true, force: true });
    throw error;
  }
  const bus = await parts.as('gateway');
  const observer = await parts.as('act');
  const rpc = new RpcClient(bus);
  const pg = new Client({ connectionString: testEnv.databaseUrl });
  await pg.connect();
  const collectors: Array<EventCollector<EventType>> = [];

  return {
    app,
    bus,
    databaseUrl: testEnv.databaseUrl,
    serviceDatabaseUrl: testEnv.serviceDatabaseUrl,
    checkpointDir,
    busOf: (service) => parts.as(service),
    call: (subject, message, actor = TEST_ACTOR) => rpc.call(subject, message, { actor }),
    async publish(type, requestId, data, options = {}) {
      const event = {
        id: options.id ?? randomUUID(),
        type,
        at: new Date().toISOString(),
        actor: options.actor ?? 'worker@hms',
        requestId,
        // Platform events (parking), which any service may publish: ACT's, here.
        source: type.startsWith('platform.') ? 'act' : type.slice(0, type.indexOf('.')),
        data,
      } as HmsEvent<typeof type>;
      await parts.publish(event);
      return event;
    },
    collect(type) {
      const collector = EventCollector.start(observer, type);
      collectors.push(collector as unknown as EventCollector<EventType>);
      return collector;
    },
    async sql(query, params = []) {
      return (await pg.query(query, params)).rows;
    },
    async close() {
      for (const collector of collectors) collector.stop();
      await app.close();
      await pg.end();
      // The stream of this prefix stays: no user of a deployment may delete it, and the run's
      // nats-server (its store a temporary folder) goes with the run.
      await parts.close();
      await testEnv.dispose();
      rmSync(checkpointDir, { recursive: true, force: true });
    },
  };
}

/** The error a call that must fail was rejected with. */
/** The request once it has `status` (its view), read again until it has. */
export function requestInStatus(act: Pick<ActHarness, 'call'>, id: string, status: RequestStatus): Promise<RequestView> {
  return eventually(async () => {
    const request = await act.call('act.request.get', { id });
    if (request.status !== status) throw new Error(`request is ${request.status}, not ${status}`);
    return request;
  });
}

export async function rpcError(call: Promise<unknown>): Promise<DomainError> {
  try {
    await call;
  } catch (error) {
    return error as DomainError;
  }
  throw new Error('expected the call to fail');
}
