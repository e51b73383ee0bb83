import { DomainError, TaskStatuses, type TaskStatus } from '@hms/contracts';

/**
 * The task lifecycle on one screen.
 *
 *   queued ──lease──▶ leased ──complete──▶ completed
 *     ▲ │              │ │ ├──fail-dead / expire-dead──▶ dead
 *     │ │              │ │ └──cancel──▶ cancelled
 *     │ └──cancel──▶ cancelled
 *     └── fail-retry / expire / release / reroute ──┘   (reroute also from queued)
 *
 * `expire` covers both a lease past its deadline and a worker declared gone; `-dead` variants
 * are taken when the attempts are spent. `heartbeat` keeps a lease and changes nothing else.
 */
export const TaskEvents = [
  'lease',
  'heartbeat',
  'complete',
  'fail-retry',
  'fail-dead',
  'expire',
  'expire-dead',
  'release',
  'cancel',
  'reroute',
] as const;
export type TaskEvent = (typeof TaskEvents)[number];

/** From each state, the events it accepts and where they lead. Anything absent is illegal. */
export const TASK_TRANSITIONS: { readonly [S in TaskStatus]: Readonly<Partial<Record<TaskEvent, TaskStatus>>> } = {
  queued: { lease: 'leased', cancel: 'cancelled', reroute: 'queued' },
  leased: {
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
  completed: {},
  dead: {},
  cancelled: {},
};

/** The state after `event`; throws CONFLICT when the task cannot take it in `state`. */
export function transitionTask(state: TaskStatus, event: TaskEvent): TaskStatus {
  const next = TASK_TRANSITIONS[state]?.[event];
  if (!next) throw new DomainError('CONFLICT', `A ${state} task cannot take '${event}'`);
  return next;
}

/** The states in which `event` is legal (used as the status guard of the SQL that applies it). */
export function statesAccepting(event: TaskEvent): TaskStatus[] {
  return TaskStatuses.filter((state) => TASK_TRANSITIONS[state][event] !== undefined);
}

/** True for states no event leaves. */
export function isTerminalTaskState(state: TaskStatus): boolean {
  return Object.keys(TASK_TRANSITIONS[state]).length === 0;
}

/**
 * A holder reports failure: retried while attempts remain (and the error is retryable),
 * otherwise dead. `attempt` counts the attempt that just failed.
 */
export function failureEvent(task: { attempt: number; maxAttempts: number }, retryable: boolean | undefined): 'fail-retry' | 'fail-dead' {
  return retryable !== false && task.attempt < task.maxAttempts ? 'fail-retry' : 'fail-dead';
}

/** A lease is lost (deadline passed, worker gone): the attempt counts, so it may be the last. */
export function expiryEvent(task: { attempt: number; maxAttempts: number }): 'expire' | 'expire-dead' {
  return task.attempt < task.maxAttempts ? 'expire' : 'expire-dead';
}
