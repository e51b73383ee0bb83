import { AckPolicy, DeliverPolicy, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { EventDeliveryLimits, EventStream } from '@hms/contracts';
import type { Logger } from 'pino';
import type { NatsBus } from '../nats/nats-bus';
import { OutageLog } from '../bootstrap/outage-log';

/** At most this many messages are handed over together, and at most this many events committed together. */
export const MAX_EVENT_BATCH = 100;

/** Messages buffered while a batch is being handled; beyond it, pulling waits for the handler. */
const MAX_BUFFERED = 4 * MAX_EVENT_BATCH;

export interface DurableBatchesOptions {
  /** Durable consumer name before the deployment prefix; replicas sharing it split the stream. */
  durable: string;
  /** Event types under this subject pattern (after `hms.evt.`), e.g. `act.>` or `>`. */
  filter: string;
  /**
   * For a consumer nobody waits on: when events arrive on an idle stream, wait this long
   * before handling them (see {@link OFF_PATH_LINGER_MS}). A busy stream never waits.
   */
  lingerMs?: number;
}

/**
 * The linger of ACT's consumer (its ledger and workflow), off the pickup path. An event that
 * makes a task leasable reaches it at the moment it reaches OMS; on a small machine its
 * transactions then compete with OMS's for the cores while a worker waits for the task. A few
 * milliseconds later the task is handed over, and a first batch that waited also gathers the
 * events that follow it (queued, leased) into one transaction.
 */
export const OFF_PATH_LINGER_MS = 5;

/**
 * The linger of consumers whose results nobody's work waits for (OPS's pool counts, outcomes and
 * alerts: read by people, the dashboard and the autoscaler). When requests arrive one by one,
 * every batch pays its fixed round trips and planning for two or three requests; waiting this
 * long gathers about ten at 200 requests a second, and a count or alert is still current within
 * a tenth of a second.
 */
export const OBSERVER_LINGER_MS = 50;

/**
 * A durable JetStream pull consumer that hands its messages over in batches, group-commit
 * style: the first message is handled alone, and whatever arrives while a batch is being handled
 * becomes the next batch (up to {@link MAX_EVENT_BATCH}). An idle stream costs no latency; a busy
 * one costs one transaction per batch instead of one per event. The handler acknowledges (or
 * naks) every message it is given.
 *
 * The consume loop restarts itself if the subscription breaks (a NATS reconnect that lost it).
 */
export class DurableBatches {
  private running = false;
  private messages?: ConsumerMessages;
  private loop?: Promise<void>;
  private buffered: JsMsg[] = [];
  private draining?: Promise<void>;
  private readonly outage: OutageLog;

  constructor(
    private readonly bus: NatsBus,
    private readonly options: DurableBatchesOptions,
    private readonly handleBatch: (messages: JsMsg[]) => Promise<void>,
    private readonly logger: Logger,
  ) {
    this.outage = new OutageLog(logger, `consumer ${options.durable} (pull)`);
  }

  /** Creates the durable consumer if needed (errors surface here), then consumes in the background. */
  async start(): Promise<void> {
    if (this.running) return;
    await this.ensureConsumer();
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.messages?.close();
    await this.loop;
    await this.draining;
  }

  /** Tells JetStream the messages waiting here are still being worked on (not to redeliver them yet). */
  holdBuffered(): void {
    for (const message of this.buffered) message.working();
  }

  private get durableName(): string {
    return `${this.bus.prefix.replace(/\W/g, '_')}${this.options.durable}`;
  }

  private async ensureConsumer(): Promise<void> {
    const jsm = await this.bus.manager();
    try {
      await jsm.consumers.info(this.bus.streamName, this.durableName);
    } catch {
      await jsm.consumers
        .add(this.bus.streamName, {
          durable_name: this.durableName,
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          filter_subject: this.bus.subject(`${EventStream.subjectRoot}.${this.options.filter}`),
          ack_wait: 30 * 1_000_000_000,
          max_ack_pending: 2000,
        })
        .catch((error: Error) => {
          if (!/already in use|exists/i.test(error.message)) throw error;
        });
    }
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.consume();
      } catch (error) {
        if (!this.running) break;
        if (!this.outage.failed(error)) this.logger.warn({ err: error, durable: this.options.durable }, 'event consumer stopped; restarting');
        await new Promise((resolve) => setTimeout(resolve, 1000));
        await this.ensureConsumer().catch(() => undefined);
      }
    }
  }

  private async consume(): Promise<void> {
    const consumer = await this.bus.jetstream.consumers.get(this.bus.streamName, this.durableName);
    const messages = await consumer.consume({ max_messages: 256 });
    this.outage.succeeded();
    this.messages = messages;
    if (!this.running) {
      await messages.close();
      return;
    }
    for await (const message of messages) {
      this.buffered.push(message);
      this.draining ??= this.drain();
      if (this.buffered.length >= MAX_BUFFERED) await this.draining;
    }
  }

  private async drain(): Promise<void> {
    // Only a drain that starts on an idle stream waits: one that is busy keeps draining.
    if (this.options.lingerMs) await new Promise((resolve) => setTimeout(resolve, this.options.lingerMs));
    while (this.buffered.length > 0) {
      const batch = this.buffered.splice(0, MAX_EVENT_BATCH);
      try {
        await this.handleBatch(batch);
      } catch (error) {
        // The handler answers every message itself; reaching here is a bug in it. Leave the
        // messages unacknowledged: JetStream redelivers them after ack_wait.
        this.logger.error({ err: error, durable: this.options.durable }, 'event batch handler failed');
      }
    }
    this.draining = undefined;
  }
}

/** Stable order by request id, so that replicas lock per-request rows in one order (no deadlocks) while each request's events keep theirs. */
export function byRequestId<T extends { requestId: string | null }>(items: T[]): T[] {
  return items
    .map((item, index) => ({ item, index }))
    .sort((a, b) => {
      const x = a.item.requestId ?? '';
      const y = b.item.requestId ?? '';
      return x < y ? -1 : x > y ? 1 : a.index - b.index;
    })
    .map(({ item }) => item);
}

/** What became of each delivery given to {@link applyAllOrEachAlone}. */
export interface DeliveryOutcomes<T> {
  applied(delivery: T): void;
  putOff(delivery: T, error: unknown): void | Promise<void>;
}

/**
 * Applies a batch of deliveries in one go and reports them all applied; if that fails, applies
 * them one at a time, so a single bad one is put off (nak with growing delay) while the rest go
 * through. Deliveries are first put in {@link byRequestId} order.
 */
export async function applyAllOrEachAlone<T extends { requestId: string | null }>(deliveries: T[], apply: (batch: T[]) => Promise<void>, outcomes: DeliveryOutcomes<T>): Promise<void> {
  if (deliveries.length === 0) return;
  const ordered = byRequestId(deliveries);
  try {
    await apply(ordered);
    for (const delivery of ordered) outcomes.applied(delivery);
    return;
  } catch (error) {
    if (ordered.length === 1) return outcomes.putOff(ordered[0]!, error);
  }
  for (const delivery of ordered) {
    let failure: { error: unknown } | null = null;
    try {
      await apply([delivery]);
    } catch (error) {
      failure = { error };
    }
    if (failure) await outcomes.putOff(delivery, failure.error);
    else outcomes.applied(delivery);
  }
}

/**
 * Redelivery delay after the n-th failed delivery: `baseMs` doubling (0.5, 1, 2, 4 s by
 * default), at most {@link EventDeliveryLimits.retryMaxMs}.
 */
export function redeliveryDelayMs(deliveryCount: number, baseMs: number = EventDeliveryLimits.retryBaseMs): number {
  return Math.min(EventDeliveryLimits.retryMaxMs, baseMs * 2 ** Math.min(Math.max(deliveryCount, 0), 16));
}
