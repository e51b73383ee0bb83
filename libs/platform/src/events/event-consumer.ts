import { AckPolicy, DeliverPolicy, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { EventStream, type AnyHmsEvent } from '@hms/contracts';
import type { EntityManager } from 'typeorm';
import type { Logger } from 'pino';
import { withConsumerSpan } from '../tracing/tracing';
import type { NatsBus } from '../nats/nats-bus';
import type { Emit, EventOutbox } from './event-outbox';

/** Handles one event inside the consumer's transaction; events it emits commit with it. */
export type EventHandler = (event: AnyHmsEvent, tx: EntityManager, emit: Emit) => Promise<void>;

/** A durable subscription of one service to part of the event stream. */
export interface EventSubscription {
  /** Durable consumer name, shared by the service's replicas so they split the work. */
  durable: string;
  /** Event types under this subject pattern (after `hms.evt.`), e.g. `act.>` or `>`. */
  filter: string;
  handle: EventHandler;
}

/**
 * An idempotent JetStream consumer: each event is handled in a transaction that first records
 * its id in `processed_events` (per consumer, so two subscriptions of one service that see the
 * same event each handle it); a redelivered event finds its id and is only acknowledged.
 * The ack follows the commit, so a crash in between means a harmless redelivery.
 */
export class EventConsumer {
  private messages?: ConsumerMessages;
  private loop?: Promise<void>;

  constructor(
    private readonly bus: NatsBus,
    private readonly outbox: EventOutbox,
    private readonly schema: string,
    private readonly subscription: EventSubscription,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    const jsm = await this.bus.manager();
    const durable = `${this.bus.prefix.replace(/\W/g, '_')}${this.subscription.durable}`;
    const config = {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: this.bus.subject(`${EventStream.subjectRoot}.${this.subscription.filter}`),
      ack_wait: 30 * 1_000_000_000,
      max_ack_pending: 2000,
    };
    try {
      await jsm.consumers.info(this.bus.streamName, durable);
    } catch {
      await jsm.consumers.add(this.bus.streamName, config).catch((error: Error) => {
        if (!/already in use|exists/i.test(error.message)) throw error;
      });
    }
    const consumer = await this.bus.jetstream.consumers.get(this.bus.streamName, durable);
    this.messages = await consumer.consume({ max_messages: 256 });
    this.loop = (async () => {
      for await (const message of this.messages!) await this.process(message);
    })();
  }

  private async process(message: JsMsg): Promise<void> {
    let event: AnyHmsEvent;
    try {
      event = message.json<AnyHmsEvent>();
    } catch {
      this.logger.error({ subject: message.subject }, 'dropping an event that is not JSON');
      message.term();
      return;
    }
    await withConsumerSpan(`event ${event.type}`, message.headers, async () => {
      try {
        await this.outbox.transaction(async (tx, emit) => {
          const fresh: unknown[] = await tx.query(
            `INSERT INTO "${this.schema}"."processed_events" ("consumer", "event_id") VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING "event_id"`,
            [this.subscription.durable, event.id],
          );
          if (fresh.length === 0) return;
          await this.subscription.handle(event, tx, emit);
        });
        message.ack();
      } catch (error) {
        const delayMs = Math.min(30_000, 250 * 2 ** Math.min(message.info.deliveryCount, 7));
        this.logger.error({ err: error, eventId: event.id, type: event.type, delayMs }, 'event handling failed; will retry');
        message.nak(delayMs);
      }
    });
  }

  async stop(): Promise<void> {
    await this.messages?.close();
    await this.loop?.catch(() => undefined);
  }
}
