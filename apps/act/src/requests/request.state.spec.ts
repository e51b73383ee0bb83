import { DomainError, RequestStatuses, type RequestStatus } from '@hms/contracts';
import { canTransitionRequest, isTerminalRequest, RequestEvents, TerminalRequestStatuses, transitionRequest, type RequestEvent } from './request.state';

/** Every state × event: the next state, or null when the event is illegal there. */
const TABLE: Record<RequestStatus, Record<RequestEvent, RequestStatus | null>> = {
  running: { complete: 'completed', reject: 'rejected', fail: 'failed', cancel: 'cancelled' },
  completed: { complete: null, reject: null, fail: null, cancel: null },
  rejected: { complete: null, reject: null, fail: null, cancel: null },
  failed: { complete: null, reject: null, fail: null, cancel: null },
  cancelled: { complete: null, reject: null, fail: null, cancel: null },
};

const cases = RequestStatuses.flatMap((status) => RequestEvents.map((event) => [status, event, TABLE[status][event]] as const));

describe('transitionRequest', () => {
  it('covers every status and event', () => {
    expect(Object.keys(TABLE).sort()).toEqual([...RequestStatuses].sort());
    expect(cases).toHaveLength(RequestStatuses.length * RequestEvents.length);
  });

  it.each(cases.filter(([, , next]) => next !== null))('%s --%s--> %s', (status, event, next) => {
    expect(canTransitionRequest(status, event)).toBe(true);
    expect(transitionRequest(status, event)).toBe(next);
  });

  it.each(cases.filter(([, , next]) => next === null))('%s --%s--> throws CONFLICT', (status, event) => {
    expect(canTransitionRequest(status, event)).toBe(false);
    expect(() => transitionRequest(status, event)).toThrow(DomainError);
    try {
      transitionRequest(status, event);
    } catch (error) {
      expect((error as DomainError).code).toBe('CONFLICT');
      expect((error as DomainError).message).toBe(`A ${status} request cannot ${event}`);
    }
  });

  it('has every state but running terminal', () => {
    expect([...TerminalRequestStatuses].sort()).toEqual(['cancelled', 'completed', 'failed', 'rejected']);
    expect(isTerminalRequest('running')).toBe(false);
    expect(isTerminalRequest('rejected')).toBe(true);
  });
});
