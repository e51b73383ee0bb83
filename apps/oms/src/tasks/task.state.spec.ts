import { DomainError, TaskStatuses, type TaskStatus } from '@hms/contracts';
import {
  expiryEvent,
  failureEvent,
  isTerminalTaskState,
  statesAccepting,
  TASK_TRANSITIONS,
  TaskEvents,
  transitionTask,
  type TaskEvent,
} from './task.state';

/** The lifecycle as API.md describes it, written out independently of the implementation. */
const expected: Record<TaskStatus, Record<TaskEvent, TaskStatus | null>> = {
  queued: {
    lease: 'leased',
    heartbeat: null,
    complete: null,
    'fail-retry': null,
    'fail-dead': null,
    expire: null,
    'expire-dead': null,
    release: null,
    cancel: 'cancelled',
    reroute: 'queued',
  },
  leased: {
    lease: null,
    heartbeat: 'leased',
    complete: 'completed',
    'fail-retry': 'queued',
    'fail-dead': 'dead',
    expire: 'queued',
    'expire-dead': 'dead',
    release: 'queued',
    cancel: 'cancelled',
    reroute: 'queued',
  },
  completed: {
    lease: null,
    heartbeat: null,
    complete: null,
    'fail-retry': null,
    'fail-dead': null,
    expire: null,
    'expire-dead': null,
    release: null,
    cancel: null,
    reroute: null,
  },
  dead: {
    lease: null,
    heartbeat: null,
    complete: null,
    'fail-retry': null,
    'fail-dead': null,
    expire: null,
    'expire-dead': null,
    release: null,
    cancel: null,
    reroute: null,
  },
  cancelled: {
    lease: null,
    heartbeat: null,
    complete: null,
    'fail-retry': null,
    'fail-dead': null,
    expire: null,
    'expire-dead': null,
    release: null,
    cancel: null,
    reroute: null,
  },
};

const cases = TaskStatuses.flatMap((state) => TaskEvents.map((event) => [state, event, expected[state][event]] as const));

describe(transitionTask.name, () => {
  it('covers every state and every event', () => {
    expect(cases).toHaveLength(TaskStatuses.length * TaskEvents.length);
    expect(Object.keys(TASK_TRANSITIONS).sort()).toEqual([...TaskStatuses].sort());
  });

  it.each(cases.filter(([, , next]) => next !== null))('moves a %s task on %s to %s', (state, event, next) => {
    expect(transitionTask(state, event)).toBe(next);
  });

  it.each(cases.filter(([, , next]) => next === null))('refuses %s on a %s task with CONFLICT', (state, event) => {
    let thrown: unknown;
    try {
      transitionTask(state, event);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(DomainError);
    expect((thrown as DomainError).code).toBe('CONFLICT');
  });
});

describe(statesAccepting.name, () => {
  it.each(TaskEvents.map((event) => [event]))('lists the states that accept %s', (event) => {
    const accepting = TaskStatuses.filter((state) => expected[state][event] !== null);
    expect(statesAccepting(event)).toEqual(accepting);
  });

  it('gives the open states for cancel and the lease-holder state for complete', () => {
    expect(statesAccepting('cancel')).toEqual(['queued', 'leased']);
    expect(statesAccepting('complete')).toEqual(['leased']);
    expect(statesAccepting('lease')).toEqual(['queued']);
  });
});

describe(isTerminalTaskState.name, () => {
  it.each([
    ['queued', false],
    ['leased', false],
    ['completed', true],
    ['dead', true],
    ['cancelled', true],
  ] as const)('says %s is terminal: %s', (state, terminal) => {
    expect(isTerminalTaskState(state)).toBe(terminal);
  });
});

describe(failureEvent.name, () => {
  it.each([
    [{ attempt: 1, maxAttempts: 3 }, undefined, 'fail-retry'],
    [{ attempt: 1, maxAttempts: 3 }, true, 'fail-retry'],
    [{ attempt: 2, maxAttempts: 3 }, undefined, 'fail-retry'],
    [{ attempt: 3, maxAttempts: 3 }, undefined, 'fail-dead'],
    [{ attempt: 1, maxAttempts: 1 }, true, 'fail-dead'],
    [{ attempt: 1, maxAttempts: 3 }, false, 'fail-dead'],
    [{ attempt: 5, maxAttempts: 3 }, true, 'fail-dead'],
  ] as const)('gives %o retryable=%s → %s', (task, retryable, event) => {
    expect(failureEvent(task, retryable)).toBe(event);
  });
});

describe(expiryEvent.name, () => {
  it.each([
    [{ attempt: 1, maxAttempts: 3 }, 'expire'],
    [{ attempt: 2, maxAttempts: 3 }, 'expire'],
    [{ attempt: 3, maxAttempts: 3 }, 'expire-dead'],
    [{ attempt: 1, maxAttempts: 1 }, 'expire-dead'],
  ] as const)('gives %o → %s', (task, event) => {
    expect(expiryEvent(task)).toBe(event);
  });
});
