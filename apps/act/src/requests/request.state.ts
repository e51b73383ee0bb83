import { DomainError, RequestStatuses, type RequestStatus } from '@hms/contracts';

/** What can happen to a request. */
export const RequestEvents = ['complete', 'reject', 'fail', 'cancel'] as const;
export type RequestEvent = (typeof RequestEvents)[number];

/**
 * The request lifecycle on one screen: `running` until exactly one terminal state. Escalation is a
 * flag on the request, not a state, so it does not appear here.
 */
const TRANSITIONS: Record<RequestStatus, Partial<Record<RequestEvent, RequestStatus>>> = {
  running: { complete: 'completed', reject: 'rejected', fail: 'failed', cancel: 'cancelled' },
  completed: {},
  rejected: {},
  failed: {},
  cancelled: {},
};

/** True when `event` may happen to a request in `status`. */
export function canTransitionRequest(status: RequestStatus, event: RequestEvent): boolean {
  return TRANSITIONS[status][event] !== undefined;
}

/**
 * The status after `event`. An illegal event is a CONFLICT (e.g. cancelling a completed
 * request), which is also what the caller of an RPC sees.
 */
export function transitionRequest(status: RequestStatus, event: RequestEvent): RequestStatus {
  const next = TRANSITIONS[status][event];
  if (!next) throw new DomainError('CONFLICT', `A ${status} request cannot ${event}`);
  return next;
}

/** Statuses a request never leaves. */
export const TerminalRequestStatuses: readonly RequestStatus[] = RequestStatuses.filter((status) => Object.keys(TRANSITIONS[status]).length === 0);

export function isTerminalRequest(status: RequestStatus): boolean {
  return TerminalRequestStatuses.includes(status);
}
