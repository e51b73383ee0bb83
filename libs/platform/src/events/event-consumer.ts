import type { JsMsg } from '@nats-io/jetstream';
import { EventDeliveryLimits, EventStream, isUuid, type AnyHmsEvent, type EventType, type HmsEvent } from '@hms/contracts';
import type { EntityManager } from 'typeorm';
import type { Logger } from 'pino';
import { withConsumerSpan } from '../tracing/tracing';
import type { NatsBus } from '../nats/nats-bus';
import { applyAllOrEachAlone, DurableBatches, MAX_EVENT_BATCH, redeliveryDelayMs } from './durable-batches';
import { unpackReceivedMessage, type TraceCarrier, type UnpackedEvent } from './event-messages';
import { currentTraceHeaders, type Emit, type EventOutbox } from './event-outbox';
import type { ParkedEvents, ReplayableConsumer } from './parked-events';
import { isTransientFailure } from './transient-failure';
import { preparedQuery } from '../database/prepared-query';
import { OutageLog } from '../bootstrap/outage-log';
import { Backoff, type BackoffPolicy } from '../bootstrap/backoff';
import { WakeableSleep } from '../bootstrap/wakeable-sleep';

/** How often a consumer tries its batch again while Postgres is away. */
const OUTAGE_RETRY: BackoffPolicy = { initialMs: 250, maxMs: 5000 };

/** Handles one event inside the consumer's transaction; events it emits commit with it. */
export type EventHandler = (event: AnyHmsEvent, tx: EntityManager, emit: Emit) => Promise<void>;

/**
 * Handles the fresh events of a batch together, in stream order, inside the consumer's
 * transaction: for consumers whose writes fold into a few set-based statements.
 */
export type BatchEventHandler = (events: AnyHmsEvent[], tx: EntityManager, emit: Emit) => Promise<void>;

/** An event handed to a {@link ManyEventHandlers} handler, with the trace context to emit what it causes in. */
export interface ManyEvent<T extends EventType> {
  event: HmsEvent<T>;
  /** This event's consumer span as the outbox stores trace context (pass it to `emit`), or null outside a trace. */
  traceHeaders: string | null;
}

/**
 * Set-based handlers by event type, beside a subscription's `handle`: each run of consecutive
 * fresh events of one of these types in a batch (which is in request-id order, each request's
 * events in stream order) is handed over together, in that order, in the consumer's
 * transaction; the events around the run go to `handle` before and after it. For handlers that
 * write a run of events in a few statements instead of a few per event.
 */
export type ManyEventHandlers = { [T in EventType]?: (events: ManyEvent<T>[], tx: EntityManager, emit: Emit) => Promise<void> };

/** An event offered to {@link SubscriptionOptions.handleAtOnce}, with its consumer span as the outbox stores trace context (pass it to what it emits), or null outside a trace. */
export interface AtOnceEvent {
  event: AnyHmsEvent;
  traceHeaders: string | null;
}

/**
 * What became of a batch offered to {@link SubscriptionOptions.handleAtOnce}: declined (nothing
 * was written; the batch takes the transactional path), or handled, with the ids (lower case)
 * of the events claimed now; the others had been handled before.
 */
export type AtOnceOutcome = 'declined' | { handled: ReadonlySet<string> };

/** A durable subscription of one service to part of the event stream. */
export type EventSubscription = SubscriptionOptions &
  ({ handle: EventHandler; handleMany?: ManyEventHandlers; handleAll?: never } | { handleAll: BatchEventHandler; handle?: never; handleMany?: never });

interface SubscriptionOptions {
  /** Durable consumer name, shared by the service's replicas so they split the work. */
  durable: string;
  /** Event types under this subject pattern (after `hms.evt.`), e.g. `act.>` or `>`. */
  filter: string;
  /**
   * The event types the handler acts on, when only some under `filter` matter: the others are
   * acknowledged without a transaction, and a message of another type (its subject says which)
   * without parsing its body. NATS 2.9 allows one filter subject per consumer (2.10's
   * `filter_subjects` would let JetStream leave them out), so this is where a consumer narrows it.
   */
  accepts?: (type: AnyHmsEvent['type']) => boolean;
  /**
   * At most this many events are handled in one transaction ({@link MAX_EVENT_BATCH} if absent).
   * More suits a subscription whose events fold into set-based statements (`handleMany`): a
   * transaction's round trips are then paid once per this many events. If a batch fails, its
   * events are retried one per transaction, so a larger batch costs more then.
   */
  maxEventsPerTransaction?: number;
  /** Wait this long before handling events that arrive on an idle stream: for subscriptions off the latency path (see OFF_PATH_LINGER_MS). */
  lingerMs?: number;
  /**
   * Called once the events handled in a transaction are committed (never for a batch that
   * rolled back and is handled again): for in-memory effects such as counters.
   */
  committed?: (events: AnyHmsEvent[]) => void;
  /**
   * Records, in the consumer's transaction, that the events are being handled, and returns the
   * ids (lower case) of those seen for the first time; only these reach the handler. By default
   * a `processed_events` row per event. A consumer whose own write is already unique per event
   * (the ledger) uses that write instead, and saves a row per event.
   */
  claim?: (events: AnyHmsEvent[], tx: EntityManager) => Promise<Set<string>>;
  /**
   * A fast path for a batch (up to `maxEventsPerTransaction` events, or one alone on an idle
   * stream): handles all of it in ONE statement that claims the events (see
   * {@link claimProcessedEventSql}) and makes the effects of the fresh ones and their outbox
   * events as CTEs, atomic by being one statement, with no transaction around it: one round trip
   * instead of BEGIN, claim, the handler's statements, the outbox insert and COMMIT. It sees the
   * batch in the order the transactional path would (request-id order, each request's events in
   * stream order), each event once, and must give the same effect. It may decline (writing
   * nothing): then the batch takes the transactional path; if it throws, nothing was written
   * either, and the transactional path tries again, where a failing event fails alone.
   */
  handleAtOnce?: (events: AtOnceEvent[]) => Promise<AtOnceOutcome>;
}

/** An event to handle, with the trace context it was emitted in. */
interface Carried {
  event: AnyHmsEvent;
  trace: TraceCarrier | null;
}

interface Delivery extends Carried {
  message: JsMsg;
  requestId: string | null;
}

/** How a consumer treats an event that keeps failing (docs/limits.md "Event delivery"). */
export interface DeliveryPolicy {
  /** Deliveries before the event is parked; {@link EventDeliveryLimits.maxDeliveries} if absent. */
  maxDeliveries?: number;
  /** Delay before the second delivery, doubling after; {@link EventDeliveryLimits.retryBaseMs} if absent. */
  retryBaseMs?: number;
  /** Where events that used up their deliveries go; without it they are retried forever. */
  parked?: ParkedEvents;
}

/**
 * An `INSERT … RETURNING "event_id"` recording that `consumer` handles the events `eventIds` (a
 * set-returning SQL expression of uuids), only if `onlyIf` (SQL, default true); it returns the
 * ids not recorded before. Usable as a CTE, so a statement can claim an event together with
 * its effect.
 */
export function claimProcessedEventSql(spec: { schema: string; consumer: string; eventIds: string; onlyIf?: string }): string {
  return `INSERT INTO "${spec.schema}"."processed_events" ("consumer", "event_id")
  SELECT ${spec.consumer}, id FROM ${spec.eventIds} AS id WHERE ${spec.onlyIf ?? 'true'}
  ON CONFLICT DO NOTHING RETURNING "event_id"`;
}

/**
 * An idempotent JetStream consumer. A batch of events is handled in one transaction that first
 * claims them: records their ids in `processed_events` (per consumer, so two subscriptions of one
 * service that see the same event each handle it), or the subscription's own `claim`; an event
 * already claimed is only acknowledged.
 * Acks follow the commit, so a crash in between means a harmless redelivery.
 *
 * A message may carry several events ({@link unpackReceivedMessage}); they are handled as if
 * delivered one by one, and the message is settled once they all are ({@link MessageAcks}).
 * If a batch fails, its events are retried one per transaction ({@link applyAllOrEachAlone}), so
 * one bad event is held back (nak with growing delay) without holding back the others. An event
 * that has failed on `maxDeliveries` deliveries is parked ({@link ParkedEvents}) and its message
 * settled, so a poison event costs a bounded number of tries and a bounded time in the
 * consumer's `max_ack_pending`, never the events behind it. JetStream's own `max_deliver` stays
 * unlimited: it would drop the message without parking it, e.g. while Postgres is down and
 * parking fails too.
 *
 * While Postgres is away nothing is split or held back: the batch waits for it, keeping its
 * messages and those buffered behind it in progress (so JetStream does not hand them to
 * another replica, nor count another delivery), and goes through when it is back.
 */
export class EventConsumer implements ReplayableConsumer {
  private readonly batches: DurableBatches;
  private readonly maxDeliveries: number;
  private readonly retryBaseMs: number;
  private readonly outage: OutageLog;
  private stopping = false;
  private readonly outagePause = new WakeableSleep();

  constructor(
    private readonly bus: NatsBus,
    private readonly outbox: EventOutbox,
    private readonly schema: string,
    private readonly subscription: EventSubscription,
    private readonly logger: Logger,
    private readonly delivery: DeliveryPolicy = {},
  ) {
    this.batches = new DurableBatches(bus, subscription, (messages) => this.process(messages), logger);
    this.maxDeliveries = delivery.maxDeliveries ?? EventDeliveryLimits.maxDeliveries;
    this.retryBaseMs = delivery.retryBaseMs ?? EventDeliveryLimits.retryBaseMs;
    this.outage = new OutageLog(logger, `consumer ${subscription.durable}`);
  }

  get durable(): string {
    return this.subscription.durable;
  }

  start(): Promise<void> {
    this.stopping = false;
    return this.batches.start();
  }

  stop(): Promise<void> {
    this.stopping = true;
    this.outagePause.wake();
    return this.batches.stop();
  }

  private async process(messages: JsMsg[]): Promise<void> {
    const acks = new MessageAcks();
    const deliveries: Delivery[] = [];
    const typeAt = this.bus.subject(`${EventStream.subjectRoot}.`).length;
    for (const message of messages) {
      // A message carries events of its subject's type only (packEventMessages): one this
      // consumer does not handle is acknowledged unread, its body never parsed.
      if (this.subscription.accepts && !this.subscription.accepts(message.subject.slice(typeAt) as EventType)) {
        message.ack();
        continue;
      }
      let carried: UnpackedEvent[];
      try {
        carried = unpackReceivedMessage(message);
      } catch {
        this.logger.error({ subject: message.subject }, 'dropping an event that is not JSON');
        message.term();
        continue;
      }
      let invalid = 0;
      let accepted = 0;
      for (const { event: candidate, trace } of carried) {
        const event = candidate as AnyHmsEvent;
        if (!isUuid(event?.id)) {
          // Redelivering it cannot give it an id; say so instead of blocking the stream.
          this.logger.error({ subject: message.subject, eventId: event?.id }, 'dropping an event without a valid id');
          invalid += 1;
          continue;
        }
        if (this.subscription.accepts && !this.subscription.accepts(event.type)) continue;
        deliveries.push({ message, event, trace, requestId: typeof event.requestId === 'string' ? event.requestId : null });
        accepted += 1;
      }
      if (accepted === 0 && invalid > 0) message.term();
      else acks.expect(message, accepted);
    }
    const perTransaction = this.subscription.maxEventsPerTransaction ?? MAX_EVENT_BATCH;
    for (let start = 0; start < deliveries.length; start += perTransaction) {
      const batch = deliveries.slice(start, start + perTransaction);
      if (await this.handledAtOnce(batch, acks)) continue;
      await applyAllOrEachAlone(batch, (some) => this.applyOutlastingOutages(some), {
        applied: (delivery) => acks.handled(delivery.message),
        putOff: (delivery, error) => this.putOff(delivery, error, acks),
      });
    }
  }

  /** True once a batch went through the subscription's one-statement path (and is acknowledged). */
  private async handledAtOnce(deliveries: Delivery[], acks: MessageAcks): Promise<boolean> {
    const { handleAtOnce, committed } = this.subscription;
    if (!handleAtOnce || deliveries.length === 0) return false;
    // An event delivered twice in one batch is offered once: one claim could not tell the copies apart.
    const unique = new Map<string, Delivery>();
    for (const delivery of deliveries) {
      const id = delivery.event.id.toLowerCase();
      if (!unique.has(id)) unique.set(id, delivery);
    }
    const offered = [...unique.values()];
    let outcome: AtOnceOutcome;
    try {
      if (offered.length === 1) {
        // Alone (the idle stream): the event's span covers the statement too.
        const { event, trace } = offered[0]!;
        outcome = await withConsumerSpan(`event ${event.type}`, trace, () => handleAtOnce([{ event, traceHeaders: currentTraceHeaders() }]));
      } else {
        outcome = await handleAtOnce(await tracedEvents(offered));
      }
    } catch (error) {
      // Nothing was written (one statement); the transactional path tries again and holds back
      // an event that fails there too, alone.
      if (!this.outage.failed(error)) this.logger.warn({ err: error, events: offered.length, durable: this.subscription.durable }, 'one-statement path failed; handling the batch in a transaction');
      return false;
    }
    if (outcome === 'declined') return false;
    for (const { message } of deliveries) acks.handled(message);
    const handled = [...unique].filter(([id]) => outcome.handled.has(id)).map(([, { event }]) => event);
    if (handled.length > 0) committed?.(handled);
    return true;
  }

  /**
   * {@link apply}, tried again while Postgres is unavailable. Until stop(): then the batch fails
   * and is put off like any other.
   */
  private async applyOutlastingOutages(deliveries: Delivery[]): Promise<void> {
    const backoff = new Backoff(OUTAGE_RETRY);
    for (;;) {
      try {
        await this.apply(deliveries);
        this.outage.succeeded();
        return;
      } catch (error) {
        if (this.stopping || this.outage.failed(error) !== 'Postgres') throw error;
        // Still ours: without this JetStream hands them to another replica after ack_wait.
        for (const { message } of deliveries) message.working();
        this.batches.holdBuffered();
        await this.outagePause.sleep(backoff.next());
      }
    }
  }

  /** Handles a parked event again (ParkedEvents.replay), in a transaction that first runs `within`. */
  async replay(event: AnyHmsEvent, within: (tx: EntityManager, emit: Emit) => Promise<void>): Promise<void> {
    const handled = await this.outbox.transaction(async (tx, emit) => {
      await within(tx, emit);
      return this.applyIn([{ event, trace: null }], tx, emit);
    });
    if (handled.length > 0) this.subscription.committed?.(handled);
  }

  private async apply(deliveries: Carried[]): Promise<void> {
    const handled = await this.outbox.transaction((tx, emit) => this.applyIn(deliveries, tx, emit));
    if (handled.length > 0) this.subscription.committed?.(handled);
  }

  /** Claims the events and hands the fresh ones to the handler, in the caller's transaction; returns those handled. */
  private async applyIn(deliveries: Carried[], tx: EntityManager, emit: Emit): Promise<AnyHmsEvent[]> {
    const { handle, handleAll, handleMany, claim } = this.subscription;
    const events = deliveries.map((d) => d.event);
    const fresh = claim ? await claim(events, tx) : await this.recordProcessed(events, tx);
    // delete(): an event delivered twice within one batch is handled once.
    const handled = deliveries.filter(({ event }) => fresh.delete(event.id.toLowerCase()));
    for (const { key: type, items } of consecutiveRuns(handled, ({ event }) => (handleMany?.[event.type] ? event.type : null))) {
      if (type === null) {
        // A batch handler's work is shared; each event's trace still records that it arrived here.
        for (const { event, trace } of items) await withConsumerSpan(`event ${event.type}`, trace, async () => (handle ? handle(event, tx, emit) : undefined));
        continue;
      }
      const many = (await tracedEvents(items)) as ManyEvent<EventType>[];
      await (handleMany![type] as (events: ManyEvent<EventType>[], tx: EntityManager, emit: Emit) => Promise<void>)(many, tx, emit);
    }
    const handledEvents = handled.map(({ event }) => event);
    if (handleAll && handledEvents.length > 0) await handleAll(handledEvents, tx, emit);
    return handledEvents;
  }

  private async recordProcessed(events: AnyHmsEvent[], tx: EntityManager): Promise<Set<string>> {
    const rows = await preparedQuery<{ event_id: string }>(
      tx,
      `${this.schema}_processed_events_record`,
      claimProcessedEventSql({ schema: this.schema, consumer: '$1::text', eventIds: 'unnest($2::uuid[])' }),
      [this.subscription.durable, events.map((event) => event.id)],
    );
    return new Set(rows.map((row) => row.event_id));
  }

  /**
   * An event failed alone: parked if that was its last delivery (then it counts as settled),
   * else put off with a growing delay. A failure of the infrastructure (Postgres away, a lock
   * or statement timeout: {@link isTransientFailure}) never parks; nor does one whose parking
   * fails too. Either is put off like any other, and parked on a later delivery if it then
   * fails for a reason of its own.
   */
  private async putOff(delivery: Delivery, error: unknown, acks: MessageAcks): Promise<void> {
    const { event, message } = delivery;
    const deliveries = message.info.deliveryCount;
    if (this.delivery.parked && deliveries >= this.maxDeliveries && !isTransientFailure(error)) {
      try {
        const subject = message.subject.startsWith(this.bus.prefix) ? message.subject.slice(this.bus.prefix.length) : message.subject;
        await this.delivery.parked.park({ consumer: this.subscription.durable, event, subject, error, deliveries });
        this.logger.error({ err: error, eventId: event.id, type: event.type, deliveries, durable: this.subscription.durable }, 'event parked: its handler failed on every delivery');
        acks.handled(message);
        return;
      } catch (parkError) {
        this.logger.error({ err: parkError, eventId: event.id, type: event.type }, 'could not park a failing event; will retry');
      }
    }
    const delayMs = redeliveryDelayMs(deliveries, this.retryBaseMs);
    this.logger.error({ err: error, eventId: event.id, type: event.type, deliveries, delayMs }, 'event handling failed; will retry');
    acks.putOff(message, delayMs);
  }
}

/**
 * Events whose work is shared (a set-based handler, one statement): each event's trace still
 * records that it arrived here, in a span of its own, and what is emitted for it continues
 * that trace.
 */
async function tracedEvents(items: Carried[]): Promise<AtOnceEvent[]> {
  const traced: AtOnceEvent[] = [];
  for (const { event, trace } of items) traced.push({ event, traceHeaders: await withConsumerSpan(`event ${event.type}`, trace, async () => currentTraceHeaders()) });
  return traced;
}

/**
 * Splits `items` into maximal runs of consecutive items with the same key, in order: how a
 * batch is handed to `handleMany` (key: the event type it handles, null for `handle`).
 */
export function consecutiveRuns<T, K>(items: T[], keyOf: (item: T) => K): Array<{ key: K; items: T[] }> {
  const runs: Array<{ key: K; items: T[] }> = [];
  for (const item of items) {
    const key = keyOf(item);
    const last = runs[runs.length - 1];
    if (last && last.key === key) last.items.push(item);
    else runs.push({ key, items: [item] });
  }
  return runs;
}

/**
 * Settles each message once every event it carries is settled: an ack when all were handled (or
 * seen before), else a nak with the longest delay any of them asked for. The events of it that
 * were handled are then recognised as seen when it comes back; only the others take effect.
 */
export class MessageAcks {
  private readonly open = new Map<JsMsg, { left: number; delayMs: number | null }>();

  /** `events` of the message's events are to be settled; with none, it is acknowledged now. */
  expect(message: JsMsg, events: number): void {
    if (events === 0) message.ack();
    else this.open.set(message, { left: events, delayMs: null });
  }

  handled(message: JsMsg): void {
    this.settle(message, null);
  }

  putOff(message: JsMsg, delayMs: number): void {
    this.settle(message, delayMs);
  }

  private settle(message: JsMsg, delayMs: number | null): void {
    const entry = this.open.get(message);
    if (!entry) return;
    if (delayMs !== null) entry.delayMs = Math.max(entry.delayMs ?? 0, delayMs);
    entry.left -= 1;
    if (entry.left > 0) return;
    this.open.delete(message);
    if (entry.delayMs === null) message.ack();
    else message.nak(entry.delayMs);
  }
}
