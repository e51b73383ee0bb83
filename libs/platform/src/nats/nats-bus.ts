import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { EventStream } from '@hms/contracts';
import { DEFAULT_MAX_PAYLOAD } from './wire-size';
import { ActorTrust } from './actor-trust';
import { inboxPrefixOf } from './nats-permissions';
import { connectCoalescing } from './coalesced-writes';

/** This process's identity on NATS: its user, and how it signs and checks actor headers. */
export interface NatsIdentity {
  user?: string;
  password?: string;
  /** Signs the actor headers this process sends, and decides whom to believe on the ones it receives. */
  trust?: ActorTrust;
}

/**
 * One NATS connection per process, with the deployment's subject prefix applied in one place.
 * Reconnects forever: a NATS restart must not take a service down.
 */
export class NatsBus {
  private jsClient?: JetStreamClient;
  private jsManager?: JetStreamManager;
  private disconnected = false;
  private readonly connectionListeners: Array<(connected: boolean) => void> = [];

  private constructor(
    readonly connection: NatsConnection,
    readonly prefix: string,
    readonly trust: ActorTrust,
  ) {
    void this.followStatus();
  }

  /** Tracks disconnects and reconnects, for readiness: while reconnecting nothing can be sent. */
  private async followStatus(): Promise<void> {
    for await (const status of this.connection.status()) {
      if (status.type !== 'disconnect' && status.type !== 'reconnect') continue;
      this.disconnected = status.type === 'disconnect';
      for (const listener of this.connectionListeners) listener(!this.disconnected);
    }
  }

  /** Called when the connection is lost (false) and when it is back (true). */
  onConnectionChange(listener: (connected: boolean) => void): void {
    this.connectionListeners.push(listener);
  }

  static async connect(url: string, prefix: string, name: string, identity: NatsIdentity = {}): Promise<NatsBus> {
    // One write system call per event-loop turn instead of one per message (coalesced-writes.ts).
    const connection = await connectCoalescing({
      servers: url.split(','),
      name,
      // A user may only subscribe under its own inbox prefix (docs/security.md "NATS").
      ...(identity.user ? { user: identity.user, pass: identity.password, inboxPrefix: inboxPrefixOf(identity.user) } : {}),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      waitOnFirstConnect: true,
      // Otherwise the client builds two Error objects (with stacks) for every request and
      // JetStream publish, in case it times out: 14 % of OMS's CPU under load. Our timeouts
      // are reported with the subject, which is what locates them.
      noAsyncTraces: true,
    });
    return new NatsBus(connection, prefix, identity.trust ?? new ActorTrust([]));
  }

  /** The wire subject of a contract subject. */
  subject(subject: string): string {
    return `${this.prefix}${subject}`;
  }

  /**
   * The largest message (body and headers) the connected server accepts: its INFO's
   * `max_payload`. Read at each use: a reconnect may land on a server configured otherwise.
   */
  get maxPayload(): number {
    return this.connection.info?.max_payload ?? DEFAULT_MAX_PAYLOAD;
  }

  /** The JetStream stream name for this prefix (stream names may not contain dots). */
  get streamName(): string {
    return `${this.prefix.replace(/\W/g, '_').toUpperCase()}${EventStream.name}`;
  }

  get jetstream(): JetStreamClient {
    this.jsClient ??= jetstream(this.connection);
    return this.jsClient;
  }

  async manager(): Promise<JetStreamManager> {
    this.jsManager ??= await jetstreamManager(this.connection);
    return this.jsManager;
  }

  /**
   * Creates the event stream if it is missing. Every service calls this at start, so the
   * first one up creates it; the de-duplication window makes relay re-publishes harmless.
   */
  async ensureEventStream(replicas = 1): Promise<void> {
    const jsm = await this.manager();
    const config = {
      name: this.streamName,
      subjects: [`${this.subject(EventStream.subjectRoot)}.>`],
      duplicate_window: 5 * 60 * 1_000_000_000,
      max_age: EventStream.maxAgeSeconds * 1_000_000_000,
      num_replicas: replicas,
    };
    try {
      await jsm.streams.info(this.streamName);
    } catch {
      try {
        await jsm.streams.add(config);
      } catch (error) {
        // Another replica created it between our info and add.
        if (!/already in use|exists/i.test((error as Error).message)) throw error;
      }
    }
  }

  /** False while the connection is lost and being re-established, and once closed. */
  get isConnected(): boolean {
    return !this.disconnected && !this.connection.isClosed();
  }

  async close(): Promise<void> {
    if (this.connection.isClosed()) return;
    await this.connection.drain().catch(() => this.connection.close());
  }
}
