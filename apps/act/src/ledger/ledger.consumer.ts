import { isUuid } from '@hms/contracts';
import { Inject, Injectable } from '@nestjs/common';
import type { JsMsg } from '@nats-io/jetstream';
import type { AnyHmsEvent } from '@hms/contracts';
import { applyAllOrEachAlone, DurableBatches, LOGGER, NatsBus, redeliveryDelayMs, withConsumerSpan, type BackgroundJob } from '@hms/platform';
import type { Logger } from 'pino';
import type { LedgerEvent } from './ledger-append';
import { LedgerService } from './ledger.service';

/** Durable consumer name (before the deployment prefix) and filter: every event of every service. */
export const LEDGER_DURABLE = 'act-ledger';
export const LEDGER_FILTER = '>';

interface LedgerDelivery {
  message: JsMsg;
  entry: LedgerEvent;
  requestId: string;
}

/**
 * Feeds the ledger from the whole event stream (JetStream durable `act-ledger`, filter `>`).
 *
 * Not an `EventSubscription`: the ledger needs no `processed_events` row per event (the busiest
 * consumer of all would double its writes): `ledger_entries.event_id` is unique, and the append
 * skips an event it already holds. Like the platform consumer, it appends a batch in one
 * transaction (requests in a stable order, so replicas take the per-request locks in the same
 * order), acknowledges only after the commit, and falls back to one event per transaction when a
 * batch fails.
 */
@Injectable()
export class LedgerConsumer implements BackgroundJob {
  private readonly batches: DurableBatches;
  private stopped = false;

  constructor(
    bus: NatsBus,
    private readonly ledger: LedgerService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.batches = new DurableBatches(bus, { durable: LEDGER_DURABLE, filter: LEDGER_FILTER }, (messages) => this.process(messages), logger);
  }

  /** Starts consuming; if the durable consumer cannot be set up yet (NATS away), tries again every second. */
  start(): void {
    this.stopped = false;
    this.batches.start().catch((error: unknown) => {
      if (this.stopped) return;
      this.logger.warn({ err: error }, 'ledger consumer could not start; retrying');
      setTimeout(() => !this.stopped && this.start(), 1000).unref();
    });
  }

  stop(): Promise<void> {
    this.stopped = true;
    return this.batches.stop();
  }

  private async process(messages: JsMsg[]): Promise<void> {
    const deliveries: LedgerDelivery[] = [];
    for (const message of messages) {
      const delivery = this.toDelivery(message);
      if (delivery) deliveries.push(delivery);
    }
    await applyAllOrEachAlone(deliveries, (batch) => this.append(batch), (delivery, error) => this.retryLater(delivery, error));
  }

  /** The ledger entry of a message, or null when there is nothing to record (the message is answered here). */
  private toDelivery(message: JsMsg): LedgerDelivery | null {
    let event: AnyHmsEvent;
    try {
      event = message.json<AnyHmsEvent>();
    } catch {
      this.logger.error({ subject: message.subject }, 'ledger: dropping an event that is not JSON');
      message.term();
      return null;
    }
    if (event.requestId === null || event.requestId === undefined) {
      message.ack();
      return null;
    }
    if (!isUuid(event.requestId) || !isUuid(event.id) || typeof event.type !== 'string' || Number.isNaN(new Date(event.at).getTime())) {
      // Retrying cannot make a malformed envelope valid; say so loudly instead of blocking the stream.
      this.logger.error({ subject: message.subject, eventId: event.id, requestId: event.requestId }, 'ledger: dropping a malformed event');
      message.term();
      return null;
    }
    const entry: LedgerEvent = {
      id: event.id,
      requestId: event.requestId,
      type: event.type,
      at: event.at,
      actor: typeof event.actor === 'string' ? event.actor : 'unknown',
      data: event.data,
    };
    return { message, entry, requestId: event.requestId };
  }

  private append(deliveries: LedgerDelivery[]): Promise<void> {
    return this.ledger.appendAll(deliveries.map(({ entry, message }) => ({ entry, within: (work) => withConsumerSpan(`ledger ${entry.type}`, message.headers, work) })));
  }

  private retryLater(delivery: LedgerDelivery, error: unknown): void {
    const delayMs = redeliveryDelayMs(delivery.message.info.deliveryCount);
    this.logger.error({ err: error, eventId: delivery.entry.id, type: delivery.entry.type, delayMs }, 'ledger append failed; will retry');
    delivery.message.nak(delayMs);
  }
}
