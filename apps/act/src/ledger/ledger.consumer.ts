import { Inject, Injectable } from '@nestjs/common';
import { AckPolicy, DeliverPolicy, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { EventStream, type AnyHmsEvent } from '@hms/contracts';
import { LOGGER, NatsBus, withConsumerSpan, type BackgroundJob } from '@hms/platform';
import type { Logger } from 'pino';
import { isUuid } from '../common/ids';
import { LedgerService } from './ledger.service';

/** Durable consumer name (before the deployment prefix) and filter: every event of every service. */
export const LEDGER_DURABLE = 'act-ledger';
export const LEDGER_FILTER = '>';

/**
 * Feeds the ledger from the whole event stream (JetStream durable `act-ledger`, filter `>`).
 *
 * Not an `EventSubscription`: the ledger needs no `processed_events` row per event (the busiest
 * consumer of all would double its writes): `ledger_entries.event_id` is unique, and the append
 * skips an event it already holds. Like the
 * platform consumer, it acknowledges only after the commit, so a crash means a harmless redelivery.
 */
@Injectable()
export class LedgerConsumer implements BackgroundJob {
  private running = false;
  private messages?: ConsumerMessages;
  private loop?: Promise<void>;

  constructor(
    private readonly bus: NatsBus,
    private readonly ledger: LedgerService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.messages?.close();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.consume();
      } catch (error) {
        if (!this.running) break;
        this.logger.warn({ err: error }, 'ledger consumer stopped; restarting');
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }

  private async consume(): Promise<void> {
    const jsm = await this.bus.manager();
    const durable = `${this.bus.prefix.replace(/\W/g, '_')}${LEDGER_DURABLE}`;
    try {
      await jsm.consumers.info(this.bus.streamName, durable);
    } catch {
      await jsm.consumers
        .add(this.bus.streamName, {
          durable_name: durable,
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          filter_subject: this.bus.subject(`${EventStream.subjectRoot}.${LEDGER_FILTER}`),
          ack_wait: 30 * 1_000_000_000,
          max_ack_pending: 2000,
        })
        .catch((error: Error) => {
          if (!/already in use|exists/i.test(error.message)) throw error;
        });
    }
    const consumer = await this.bus.jetstream.consumers.get(this.bus.streamName, durable);
    const messages = await consumer.consume({ max_messages: 256 });
    this.messages = messages;
    if (!this.running) {
      await messages.close();
      return;
    }
    for await (const message of messages) await this.process(message);
  }

  private async process(message: JsMsg): Promise<void> {
    let event: AnyHmsEvent;
    try {
      event = message.json<AnyHmsEvent>();
    } catch {
      this.logger.error({ subject: message.subject }, 'ledger: dropping an event that is not JSON');
      message.term();
      return;
    }
    if (event.requestId === null || event.requestId === undefined) {
      message.ack();
      return;
    }
    if (!isUuid(event.requestId) || !isUuid(event.id) || typeof event.type !== 'string' || Number.isNaN(new Date(event.at).getTime())) {
      // Retrying cannot make a malformed envelope valid; say so loudly instead of blocking the stream.
      this.logger.error({ subject: message.subject, eventId: event.id, requestId: event.requestId }, 'ledger: dropping a malformed event');
      message.term();
      return;
    }
    await withConsumerSpan(`ledger ${event.type}`, message.headers, async () => {
      try {
        await this.ledger.append({
          id: event.id,
          requestId: event.requestId!,
          type: event.type,
          at: event.at,
          actor: typeof event.actor === 'string' ? event.actor : 'unknown',
          data: event.data,
        });
        message.ack();
      } catch (error) {
        const delayMs = Math.min(30_000, 250 * 2 ** Math.min(message.info.deliveryCount, 7));
        this.logger.error({ err: error, eventId: event.id, type: event.type, delayMs }, 'ledger append failed; will retry');
        message.nak(delayMs);
      }
    });
  }
}
