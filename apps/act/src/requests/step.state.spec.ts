import { DomainError, StepStatuses, type StepStatus } from '@hms/contracts';
import { canTransitionStep, stepStatusesAllowing, isOpenStep, isSettledStep, StepEvents, TerminalStepStatuses, transitionStep, type StepEvent } from './step.state';

const none = { activate: null, skip: null, taskQueued: null, attemptFailed: null, taskRerouted: null, complete: null, fail: null, waive: null, cancel: null };

/** Every state × event: the next state, or null when the event is illegal there. */
const TABLE: Record<StepStatus, Record<StepEvent, StepStatus | null>> = {
  pending: { ...none, activate: 'ready', skip: 'skipped', fail: 'failed', cancel: 'cancelled' },
  ready: {
    ...none,
    taskQueued: 'ready',
    attemptFailed: 'ready',
    taskRerouted: 'ready',
    complete: 'done',
    fail: 'failed',
    waive: 'skipped',
    cancel: 'cancelled',
  },
  done: none,
  skipped: none,
  failed: none,
  cancelled: none,
};

const cases = StepStatuses.flatMap((status) => StepEvents.map((event) => [status, event, TABLE[status][event]] as const));

describe('transitionStep', () => {
  it('covers every status and event', () => {
    expect(Object.keys(TABLE).sort()).toEqual([...StepStatuses].sort());
    for (const row of Object.values(TABLE)) expect(Object.keys(row).sort()).toEqual([...StepEvents].sort());
  });

  it.each(cases.filter(([, , next]) => next !== null))('%s --%s--> %s', (status, event, next) => {
    expect(canTransitionStep(status, event)).toBe(true);
    expect(transitionStep(status, event)).toBe(next);
  });

  it.each(cases.filter(([, , next]) => next === null))('%s --%s--> throws', (status, event) => {
    expect(canTransitionStep(status, event)).toBe(false);
    expect(() => transitionStep(status, event)).toThrow(new DomainError('CONFLICT', `A ${status} step cannot ${event}`));
  });

  it('knows which steps are open, settled and terminal', () => {
    expect([...TerminalStepStatuses].sort()).toEqual(['cancelled', 'done', 'failed', 'skipped']);
    expect(StepStatuses.filter(isOpenStep)).toEqual(['pending', 'ready']);
    expect(StepStatuses.filter(isSettledStep)).toEqual(['done', 'skipped']);
  });

  it('lists the statuses that can take an event, as the statements that check it in SQL need', () => {
    expect(stepStatusesAllowing('taskQueued')).toEqual(['ready']);
    expect(stepStatusesAllowing('cancel')).toEqual(['pending', 'ready']);
    for (const event of StepEvents) expect(stepStatusesAllowing(event)).toEqual(StepStatuses.filter((status) => canTransitionStep(status, event)));
  });
});
