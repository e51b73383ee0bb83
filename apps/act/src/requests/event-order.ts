import type { PendingEvent } from '@hms/platform';

/**
 * The events of several new requests in the order to write them: every `act.request.created`
 * first, then the rest in the order given. Each request's own events keep their order (its
 * created event comes first among them anyway), and the relay, which packs runs of one type into
 * one message, sends the requests of one statement in a few messages rather than alternating
 * types two per request.
 */
export function createdFirst(events: PendingEvent[]): PendingEvent[] {
  const created: PendingEvent[] = [];
  const rest: PendingEvent[] = [];
  for (const pending of events) (pending.event.type === 'act.request.created' ? created : rest).push(pending);
  return created.length === 0 || rest.length === 0 ? events : [...created, ...rest];
}
