import { IsText } from './limits';
import { PageQuery } from './pagination';
import type { ServiceName } from './subjects';

/**
 * An event a service's consumer gave up on after `EventDeliveryLimits.maxDeliveries` deliveries
 * (its handler failed each time): kept in that service's `parked_events` until an operator
 * replays it (API.md `GET /v1/parked-events`).
 */
export interface ParkedEventView {
  id: string;
  /** The service whose consumer parked it. */
  service: ServiceName;
  /** The durable consumer (before the deployment prefix) that failed on it; replay runs its handler. */
  consumer: string;
  eventId: string;
  /** The event's type, e.g. `act.step.ready`. */
  type: string;
  /** The JetStream subject it arrived on (without the deployment prefix). */
  subject: string;
  requestId: string | null;
  /** When the event happened (its `at`). */
  at: string | null;
  /** The event's data, as it was delivered. */
  data: unknown;
  /** The handler's error on the last delivery (or the last replay). */
  lastError: string;
  /** Deliveries and replays that failed. */
  deliveryCount: number;
  parkedAt: string;
}

/** Newest first; cursor pagination. */
export class ListParkedEventsQuery extends PageQuery {}

export class ReplayParkedEventCommand {
  /** The parked event's `id` (not the event id); one that names none is NOT_FOUND. */
  @IsText(100)
  id: string;
}

/**
 * What a replay did: `replayed` true when the consumer's handler committed the event (or had
 * handled it already) and the parked row is gone; false when it failed again, and `parkedEvent`
 * then shows the new error (the row stays).
 */
export interface ReplayParkedEventResult {
  replayed: boolean;
  parkedEvent: ParkedEventView | null;
}
