import { randomBytes } from 'node:crypto';
import { DeliverPolicy } from '@nats-io/jetstream';
import { EventStream, type HmsEvent, type ServiceName } from '@hms/contracts';
import { ActorTrust, generatedNatsAuthSpec, NatsBus, unpackReceivedMessage, type NatsAuthSpec, type NatsIdentity, type NatsUser } from '@hms/platform';

/**
 * The NATS of a test run has the users and permissions a deployment has (docs/security.md
 * "NATS"): one per service, the gateway, and one bot. This module is the one place that knows
 * them; a test names the identity it plays and never copies a password.
 */

/** The bot user of a test run's NATS: tests that play a bot connect as it. */
export const TEST_BOT_USER = 'test-bot';

/** Who a test connects as: a service, the gateway, or the run's bot. */
export type TestNatsUser = ServiceName | 'gateway' | 'bot';

/** Where the test runner (or Jest's global setup) passes the run's NATS users to the test files. */
export const TEST_NATS_AUTH_VARIABLE = 'HMS_TEST_NATS_AUTH';

/**
 * The users of a test run's NATS server: the deployment's generated users (fresh passwords) with
 * permissions for any one-token subject prefix, since every test file has a prefix of its own.
 */
export function testRunNatsAuth(): NatsAuthSpec {
  return generatedNatsAuthSpec('*', [TEST_BOT_USER]);
}

/** The users of this run's NATS (set by the runner or Jest's global setup). */
export function testNatsAuth(): NatsAuthSpec {
  const text = process.env[TEST_NATS_AUTH_VARIABLE];
  if (!text) throw new Error(`${TEST_NATS_AUTH_VARIABLE} is not set: run the suite with \`npm test\` or \`npx jest\` (its global setup starts an authenticated nats-server).`);
  return JSON.parse(text) as NatsAuthSpec;
}

/** The name and password of one of the run's users. */
export function testNatsUser(who: TestNatsUser, auth: NatsAuthSpec = testNatsAuth()): NatsUser {
  return who === 'bot' ? auth.bots[0]! : auth.services[who];
}

/** A fresh key the services of one stack or harness sign actor headers with (`HMS_ACTOR_KEY`). */
export function newActorKey(): string {
  return randomBytes(32).toString('base64url');
}

/** A service's NATS settings: its user, its password, and the actor key it shares with the other apps. */
export function serviceNatsEnv(service: ServiceName | 'gateway', actorKey: string, auth: NatsAuthSpec = testNatsAuth()): Record<string, string> {
  const { user, password } = auth.services[service];
  return { NATS_USER: user, NATS_PASSWORD: password, HMS_ACTOR_KEY: actorKey };
}

/**
 * A test's identity on the run's NATS. With `actorKey`, the calls it sends carry a signed actor
 * header, as the gateway's do; without, its actor header is believed by nobody (a bot's, an attacker's).
 */
export function testNatsIdentity(who: TestNatsUser, actorKey?: string, auth: NatsAuthSpec = testNatsAuth()): NatsIdentity {
  const { user, password } = testNatsUser(who, auth);
  return { user, password, trust: new ActorTrust(actorKey ? [actorKey] : []) };
}

/** A bus on the run's NATS as `who` (see {@link testNatsIdentity}). */
export function connectTestBus(natsUrl: string, prefix: string, name: string, who: TestNatsUser, actorKey?: string): Promise<NatsBus> {
  return NatsBus.connect(natsUrl, prefix, name, testNatsIdentity(who, actorKey));
}

/**
 * Follows the events of the bus's prefix on `subject` (a contract subject such as
 * `EventStream.subjectOf('oms.>')`)
 * stored from `since` on, through an ordered JetStream consumer. No user may subscribe to event
 * subjects on core NATS (only services, and only through JetStream), so the bus must be a service's.
 */
export function followEvents(bus: NatsBus, subject: string, onEvent: (event: HmsEvent) => void, since = new Date()): { ready: Promise<void>; stop(): void } {
  let stopped = false;
  let close: (() => void) | undefined;
  const ready = (async () => {
    const consumer = await bus.jetstream.consumers.get(bus.streamName, {
      filter_subjects: bus.subject(subject),
      deliver_policy: DeliverPolicy.StartTime,
      opt_start_time: since.toISOString(),
    });
    const messages = await consumer.consume();
    close = () => void messages.close().catch(() => undefined);
    if (stopped) close();
    void (async () => {
      for await (const message of messages) for (const { event } of unpackReceivedMessage(message)) onEvent(event as HmsEvent);
    })().catch(() => undefined);
  })();
  return {
    ready,
    stop() {
      stopped = true;
      close?.();
    },
  };
}

/**
 * The rest of the system around a service a test runs in-process, each part on the run's NATS as
 * its own user: the gateway making calls (actor headers signed with a key made here, which the
 * service under test is given by {@link serviceEnv}), and each service publishing its own events
 * and reading the stream. A test plays a part with {@link as}; nothing here has rights that no
 * deployed user has.
 */
export class TestNatsParts {
  readonly actorKey = newActorKey();
  private readonly buses = new Map<TestNatsUser, Promise<NatsBus>>();

  constructor(
    readonly natsUrl: string,
    readonly prefix: string,
    private readonly label: string,
  ) {}

  /** The NATS settings of a service under test: its user, and the key whose signatures it believes. */
  serviceEnv(service: ServiceName | 'gateway'): Record<string, string> {
    return serviceNatsEnv(service, this.actorKey);
  }

  /** One connection per part, made on first use; the bot's without the actor key. */
  as(who: TestNatsUser): Promise<NatsBus> {
    if (!this.buses.has(who)) this.buses.set(who, connectTestBus(this.natsUrl, this.prefix, `${this.label}-${who}`, who, who === 'bot' ? undefined : this.actorKey));
    return this.buses.get(who)!;
  }

  /**
   * Puts an event on the stream as its source's outbox relay does (message id = event id unless
   * `msgID` says otherwise), on that service's user. `body` replaces the JSON of the event (a
   * malformed message).
   */
  async publish(event: HmsEvent, options: { msgID?: string; body?: string } = {}): Promise<void> {
    const bus = await this.as(event.source);
    await bus.jetstream.publish(bus.subject(EventStream.subjectOf(event.type)), options.body ?? JSON.stringify(event), { msgID: options.msgID ?? event.id });
  }

  async close(): Promise<void> {
    const buses = await Promise.all(this.buses.values());
    this.buses.clear();
    for (const bus of buses) await bus.close();
  }
}
