import { randomUUID } from 'node:crypto';
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
  type TaskView,
} from '@hms/contracts';
import { bootstrapService, loadConfig, RpcClient, type NatsBus } from '@hms/platform';
import { followEvents, freshTestEnvironment, TestNatsParts } from '@hms/testing';
import { Client } from 'pg';
import { createOmsModule } from '../oms.module';
import { OmsConfig } from '../oms.config';
import type { TasksService } from '../tasks/tasks.service';

/** The manager the tests call OMS as. */
export const TEST_ACTOR: Actor = { id: 'test-manager', roles: ['manager'] };

/** Polls `probe` until it returns something other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 5_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * OMS started in-process on a fresh database and a subject prefix of its own, driven through
 * real NATS like ACT and the gateway would: RPC through RpcClient, ACT's events published to
 * JetStream, OMS's events observed on their subjects.
 */
/** An `act.step.ready` as ACT emits it, for a test to hand to OMS directly (a step with no settings of its own unless `data` gives them). */
export function stepReadyEvent(pool: string, data: Partial<EventDataMap['act.step.ready']> = {}): HmsEvent<'act.step.ready'> {
  return {
    id: randomUUID(),
    type: 'act.step.ready',
    at: new Date().toISOString(),
    actor: 'system:act',
    requestId: randomUUID(),
    source: 'act',
    data: { stepId: 'check', pool, title: 'Check', tags: [], priority: 0, payload: {}, leaseSeconds: null, slaMinutes: null, retry: null, ...data },
  };
}

/**
 * TasksService.queueStepsAtOnce (the `oms` consumer's one-statement path) on `events` as the
 * consumer offers them, summarised: declined, handled when it claimed one, else seen.
 */
export async function queueAtOnce(tasks: TasksService, ...events: HmsEvent<'act.step.ready'>[]): Promise<'handled' | 'seen' | 'declined'> {
  const outcome = await tasks.queueStepsAtOnce(events.map((event) => ({ event, traceHeaders: null })), 'oms');
  if (outcome === 'declined') return outcome;
  return outcome.handled.size > 0 ? 'handled' : 'seen';
}

export class OmsHarness {
  /** Every OMS event published since start, in arrival order. */
  readonly events: HmsEvent[] = [];
  private readonly apps: INestApplication[] = [];
  private eventFollower?: { stop(): void };
  private sqlClient?: Client;

  private constructor(
    readonly env: Record<string, string>,
    /** The harness's calls: the gateway's NATS user, actor headers signed with OMS's actor key. */
    readonly bus: NatsBus,
    readonly rpc: RpcClient,
    /** The other parts of the system, each as its NATS user (ACT's reads OMS's events from the stream). */
    private readonly parts: TestNatsParts,
    private readonly dispose: () => Promise<void>,
  ) {}

  /** `natsUrl`: a NATS server of the test's own (e.g. one with a small `max_payload`) instead of the run's. */
  static async start(label: string, settings: Record<string, string> = {}, options: { natsUrl?: string } = {}): Promise<OmsHarness> {
    const environment = await freshTestEnvironment(label);
    if (options.natsUrl) environment.natsUrl = options.natsUrl;
    // As deployed: OMS migrates as the owner and works as a role that cannot change the schema,
    // and is on NATS as its own user, believing actor headers signed with the harness's key.
    const parts = new TestNatsParts(environment.natsUrl, environment.subjectPrefix, 'oms-test');
    const env = {
      DATABASE_URL: environment.serviceDatabaseUrl,
      DATABASE_MIGRATION_URL: environment.databaseUrl,
      NATS_URL: environment.natsUrl,
      HMS_SUBJECT_PREFIX: environment.subjectPrefix,
      LOG_LEVEL: 'warn',
      OMS_LEASE_SWEEP_MS: '200',
      ...parts.serviceEnv('oms'),
      ...settings,
    };
    const bus = await parts.as('gateway');
    const harness = new OmsHarness(env, bus, new RpcClient(bus), parts, environment.dispose);
    // OMS's events as ACT reads them, from the stream (made here, so it is followed from OMS's first event).
    const act = await parts.as('act');
    await act.ensureEventStream();
    const follower = followEvents(act, `${EventStream.subjectOf('oms')}.>`, (event) => harness.events.push(event));
    harness.eventFollower = follower;
    await follower.ready;
    await harness.startReplica();
    return harness;
  }

  /** Starts one more OMS process-in-process on the same database and prefix (a replica). */
  async startReplica(): Promise<INestApplication> {
    const app = await bootstrapService(createOmsModule(loadConfig(OmsConfig, { ...this.env, PORT: '0' })), { port: 0 });
    this.apps.push(app);
    return app;
  }

  get replicas(): readonly INestApplication[] {
    return this.apps;
  }

  call<S extends RpcSubject>(subject: S, message: RpcRequest<S>, timeoutMs?: number): Promise<RpcResponse<S>> {
    return this.rpc.call(subject, message, { actor: TEST_ACTOR, timeoutMs });
  }

  /** Calls and returns the DomainError it fails with (or throws if it succeeds). */
  async failure<S extends RpcSubject>(subject: S, message: RpcRequest<S>): Promise<{ code: string; message: string; details?: unknown }> {
    try {
      await this.call(subject, message);
    } catch (error) {
      return error as { code: string; message: string; details?: unknown };
    }
    throw new Error(`${subject} succeeded but was expected to fail`);
  }

  /** Publishes an ACT event to JetStream the way ACT's outbox relay does. */
  publishActEvent<T extends EventType>(type: T, requestId: string | null, data: EventDataMap[T], id: string = randomUUID()): Promise<HmsEvent<T>> {
    return this.publishEvent('act', type, requestId, data, id);
  }

  /** Publishes another service's event to JetStream the way its outbox relay does. */
  async publishEvent<T extends EventType>(source: EventSource, type: T, requestId: string | null, data: EventDataMap[T], id: string = randomUUID()): Promise<HmsEvent<T>> {
    const event: HmsEvent<T> = { id, type, at: new Date().toISOString(), actor: `system:${source}`, requestId, source, data };
    await this.parts.publish(event);
    return event;
  }

  /** Publishes events of one source as one message, as its outbox relay publishes a run of them. */
  async publishRun(events: HmsEvent[]): Promise<void> {
    await this.parts.publish(events[0]!, { msgID: `${randomUUID()}+${events.length}`, body: JSON.stringify(events) });
  }

  /** ACT says a step is ready; returns its request and step ids. */
  async stepReady(step: Partial<EventDataMap['act.step.ready']> & { pool: string }, requestId: string = randomUUID()) {
    const data: EventDataMap['act.step.ready'] = {
      stepId: `step-${randomUUID().slice(0, 8)}`,
      title: 'A step',
      tags: [],
      priority: 0,
      payload: {},
      leaseSeconds: null,
      slaMinutes: null,
      retry: null,
      ...step,
    };
    await this.publishActEvent('act.step.ready', requestId, data);
    return { requestId, stepId: data.stepId };
  }

  /** The task of a (request, step), once OMS has queued it. */
  waitForTask(requestId: string, stepId: string, timeoutMs = 5_000): Promise<TaskView> {
    return eventually(
      async () => (await this.call('oms.task.list', { requestId })).items.find((task) => task.stepId === stepId),
      timeoutMs,
      `task ${requestId}/${stepId}`,
    );
  }

  /** Queues a step and waits until its task exists. */
  async queueTask(step: Partial<EventDataMap['act.step.ready']> & { pool: string }): Promise<TaskView> {
    const { requestId, stepId } = await this.stepReady(step);
    return this.waitForTask(requestId, stepId);
  }

  /** The first OMS event matching, waiting for it if needed. */
  waitForEvent<T extends EventType>(type: T, match: (event: HmsEvent<T>) => boolean = () => true, timeoutMs = 5_000): Promise<HmsEvent<T>> {
    return eventually(
      async () => this.events.find((event): event is HmsEvent<T> => event.type === type && match(event as HmsEvent<T>)),
      timeoutMs,
      `event ${type}`,
    );
  }

  /** Direct SQL on OMS's database as its owner, for assertions the API does not expose. */
  async sql<T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
    if (!this.sqlClient) {
      this.sqlClient = new Client({ connectionString: this.env.DATABASE_MIGRATION_URL });
      await this.sqlClient.connect();
    }
    return (await this.sqlClient.query(text, params)).rows as T[];
  }

  async stopReplica(app: INestApplication): Promise<void> {
    const index = this.apps.indexOf(app);
    if (index >= 0) this.apps.splice(index, 1);
    await app.close();
  }

  async close(): Promise<void> {
    for (const app of this.apps.splice(0)) await app.close();
    this.eventFollower?.stop();
    await this.sqlClient?.end();
    await this.parts.close();
    await this.dispose();
  }
}
