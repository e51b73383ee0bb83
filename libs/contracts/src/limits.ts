// ---------------------------------------------------------------------------------------------
// Event delivery: poison events (docs/limits.md "Event delivery")
// ---------------------------------------------------------------------------------------------

/**
 * How often a consumer tries an event before it gives up on it and parks it (`parked_events`
 * in the service's schema, listed and replayed by operators), and how it spaces the tries.
 * The defaults; each deployment may set `HMS_EVENT_MAX_DELIVERIES` and `HMS_EVENT_RETRY_BASE_MS`.
 */
export const EventDeliveryLimits = {
  /**
   * Deliveries of an event before it is parked, when its handler fails for a reason of its own
   * (failures of the infrastructure, such as timeouts and lost connections, are retried for as
   * long as they last and never park). Five tries spaced 0.5, 1, 2 and 4 s bound how long a
   * poison message holds a slot of the consumer's `max_ack_pending` (about 8 s), so what queues
   * behind it keeps moving.
   */
  maxDeliveries: 5,
  /** Delay before the second delivery; it doubles with each delivery after that. */
  retryBaseMs: 250,
  /** No redelivery waits longer than this. */
  retryMaxMs: 30_000,
  /** A parked event's last error is kept (and shown) up to this many characters. */
  lastErrorChars: 2000,
  /**
   * A page of parked events stops growing past this many bytes of events (at least one is
   * always listed): each may be as large as an event message, and the page is one NATS reply.
   */
  parkedPageBytes: 256 * 1024,
} as const;
