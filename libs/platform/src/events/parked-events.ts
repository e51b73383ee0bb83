import { randomUUID } from 'node:crypto';
import {
  DEFAULT_PAGE_SIZE,
  DomainError,
  EventDeliveryLimits,
  isUuid,
  type AnyHmsEvent,
  type EventSource,
  type ListParkedEventsQuery,
  type Page,
  type ParkedEventView,
  type ReplayParkedEventResult,
} from '@hms/contracts';
import type { DataSource, EntityManager } from 'typeorm';
import type { Clock } from '../clock';
import { preparedQuery } from '../database/prepared-query';
import { decodeTimeIdCursor, encodeTimeIdCursor } from '../database/time-id-cursor';
import type { Emit, EventOutbox } from './event-outbox';

/** An event a consumer gives up on, with what it knows of the failure. */
export interface EventToPark {
  /** The durable consumer's name before the deployment prefix. */
  consumer: string;
  event: AnyHmsEvent;
  /** The subject it arrived on, without the deployment prefix. */
  subject: string;
  error: unknown;
  /** Deliveries so far (JetStream's count for the message that carried it). */
  deliveries: number;
}

/** The part of a consumer a replay needs: its name, and its handler run in a transaction of ours. */
export interface ReplayableConsumer {
  readonly durable: string;
  /**
   * Handles `event` as if delivered, in one transaction that first runs `within` (which may
   * throw to abandon it); the consumer's claim still decides whether the event is new.
   */
  replay(event: AnyHmsEvent, within: (tx: EntityManager, emit: Emit) => Promise<void>): Promise<void>;
}

interface ParkedEventRow {
  id: string;
  consumer: string;
  event_id: string;
  type: string;
  subject: string;
  request_id: string | null;
  event: string;
  last_error: string;
  delivery_count: number;
  parked_at: Date;
}

const COLUMNS = `"id", "consumer", "event_id", "type", "subject", "request_id", "event", "last_error", "delivery_count", "parked_at"`;

/**
 * Text that Postgres accepts anywhere, `text` or inside `jsonb` (an event's data goes through
 * the outbox as jsonb), and a person can read: NUL and lone surrogates, which both refuse,
 * become U+FFFD, and it is cut to `maxChars` (never inside a surrogate pair).
 */
export function storableText(value: string, maxChars: number): string {
  // eslint-disable-next-line no-control-regex
  const clean = value.replace(/\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
  if (clean.length <= maxChars) return clean;
  const cut = /[\uD800-\uDBFF]/.test(clean[maxChars - 2] ?? '') ? maxChars - 2 : maxChars - 1;
  return `${clean.slice(0, cut)}…`;
}

/** An error as a parked event keeps it: its name and message, bounded. */
export function describeError(error: unknown): string {
  const text = error instanceof Error ? (error.name && error.name !== 'Error' ? `${error.name}: ${error.message}` : error.message) : String(error);
  return storableText(text || 'unknown error', EventDeliveryLimits.lastErrorChars);
}

/** Events about parking itself: a consumer that parks one of these raises nothing more (no loop). */
export function isParkingEvent(type: unknown): boolean {
  return typeof type === 'string' && type.startsWith('platform.event.');
}

/** A replay found its row gone: another replay took it first. */
class AlreadyReplayed extends Error {}

/**
 * The events a service's consumers gave up on (`<schema>.parked_events`): the consumer parks an
 * event here after {@link EventDeliveryLimits.maxDeliveries} failed deliveries and acknowledges
 * it, so the events behind it keep flowing; parking emits `platform.event.parked`, which OPS
 * turns into an alert. Operators list them and replay one through the consumer that failed on
 * it, once its cause is fixed: on success the row goes (and `platform.event.replayed` resolves
 * the alert), otherwise it stays with the new error.
 */
export class ParkedEvents {
  private readonly consumers = new Map<string, ReplayableConsumer>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly outbox: EventOutbox,
    private readonly schema: string,
    private readonly service: EventSource,
    private readonly clock: Clock,
  ) {}

  /** Makes a running consumer available to replays of the events it parked. */
  register(consumer: ReplayableConsumer): void {
    this.consumers.set(consumer.durable, consumer);
  }

  /**
   * Records the event (a repeat, after a crash between parking and the ack, only updates the
   * error) and, the first time, emits `platform.event.parked`, in one transaction.
   */
  async park(item: EventToPark): Promise<void> {
    const { event } = item;
    const type = storableText(typeof event.type === 'string' ? event.type : 'unknown', 200);
    const error = describeError(item.error);
    const requestId = isUuid(event.requestId) ? event.requestId : null;
    await this.outbox.transaction(async (tx, emit) => {
      const [row] = await preparedQuery<{ id: string; inserted: boolean }>(
        tx,
        `${this.schema}_parked_events_park`,
        `INSERT INTO "${this.schema}"."parked_events" (${COLUMNS})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT ("consumer", "event_id") DO UPDATE SET "last_error" = EXCLUDED."last_error", "delivery_count" = EXCLUDED."delivery_count"
         RETURNING "id", (xmax = 0) AS "inserted"`,
        [randomUUID(), item.consumer, event.id, type, storableText(item.subject, 1000), requestId, JSON.stringify(event), error, item.deliveries, this.clock.now()],
      );
      if (!row!.inserted || isParkingEvent(event.type)) return;
      emit(
        'platform.event.parked',
        requestId,
        { service: this.service, consumer: item.consumer, parkedId: row!.id, eventId: event.id, eventType: type, deliveries: item.deliveries, error: storableText(error, 500) },
        `system:${this.service}`,
      );
    });
  }

  /** Newest first, cut short before a page grows past {@link EventDeliveryLimits.parkedPageBytes}. */
  async list(query: ListParkedEventsQuery): Promise<Page<ParkedEventView>> {
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const cursor = query.cursor !== undefined ? decodeTimeIdCursor(query.cursor) : null;
    const rows = await preparedQuery<ParkedEventRow>(
      this.dataSource.manager,
      `${this.schema}_parked_events_list`,
      `SELECT ${COLUMNS} FROM "${this.schema}"."parked_events"
       WHERE $1::timestamptz IS NULL OR ("parked_at", "id") < ($1, $2::uuid)
       ORDER BY "parked_at" DESC, "id" DESC
       LIMIT $3`,
      [cursor?.at ?? null, cursor?.id ?? null, limit + 1],
    );
    const items: ParkedEventView[] = [];
    let bytes = 0;
    for (const row of rows.slice(0, limit)) {
      bytes += row.event.length;
      if (items.length > 0 && bytes > EventDeliveryLimits.parkedPageBytes) break;
      items.push(this.view(row));
    }
    const more = items.length < rows.length;
    const last = items[items.length - 1];
    return { items, nextCursor: more && last ? encodeTimeIdCursor({ at: new Date(last.parkedAt), id: last.id }) : null };
  }

  /**
   * Runs the parked event through its consumer's handler again. The row is deleted in the
   * handler's transaction, so it goes exactly when the event is handled; two replays of one
   * row queue on its lock and the second finds it gone (NOT_FOUND). `actor` (who replayed it)
   * is the actor of `platform.event.replayed`, so the ledger and the alert's resolution say who.
   */
  async replay(id: string, actor: string): Promise<ReplayParkedEventResult> {
    const row = await this.find(id);
    const consumer = this.consumers.get(row.consumer);
    if (!consumer) throw new DomainError('CONFLICT', `The consumer '${row.consumer}' that parked event '${id}' no longer runs in ${this.service}`);
    const event = JSON.parse(row.event) as AnyHmsEvent;
    try {
      await consumer.replay(event, async (tx, emit) => {
        const gone = await preparedQuery(tx, `${this.schema}_parked_events_take`, `DELETE FROM "${this.schema}"."parked_events" WHERE "id" = $1 RETURNING "id"`, [id]);
        if (gone.length === 0) throw new AlreadyReplayed();
        emit(
          'platform.event.replayed',
          row.request_id,
          { service: this.service, consumer: row.consumer, parkedId: row.id, eventId: row.event_id, eventType: row.type },
          actor,
        );
      });
      return { replayed: true, parkedEvent: null };
    } catch (error) {
      if (error instanceof AlreadyReplayed) throw DomainError.notFound('Parked event', id);
      const [updated] = await preparedQuery<ParkedEventRow>(
        this.dataSource.manager,
        `${this.schema}_parked_events_failed_again`,
        `UPDATE "${this.schema}"."parked_events" SET "last_error" = $2, "delivery_count" = "delivery_count" + 1 WHERE "id" = $1 RETURNING ${COLUMNS}`,
        [id, describeError(error)],
      );
      if (!updated) throw DomainError.notFound('Parked event', id);
      return { replayed: false, parkedEvent: this.view(updated) };
    }
  }

  private async find(id: string): Promise<ParkedEventRow> {
    if (!isUuid(id)) throw DomainError.notFound('Parked event', id);
    const [row] = await preparedQuery<ParkedEventRow>(
      this.dataSource.manager,
      `${this.schema}_parked_events_get`,
      `SELECT ${COLUMNS} FROM "${this.schema}"."parked_events" WHERE "id" = $1`,
      [id],
    );
    if (!row) throw DomainError.notFound('Parked event', id);
    return row;
  }

  private view(row: ParkedEventRow): ParkedEventView {
    const event = JSON.parse(row.event) as Partial<AnyHmsEvent>;
    return {
      id: row.id,
      service: this.service,
      consumer: row.consumer,
      eventId: row.event_id,
      type: row.type,
      subject: row.subject,
      requestId: row.request_id,
      at: typeof event.at === 'string' ? event.at : null,
      data: event.data ?? null,
      lastError: row.last_error,
      deliveryCount: row.delivery_count,
      parkedAt: row.parked_at.toISOString(),
    };
  }
}
