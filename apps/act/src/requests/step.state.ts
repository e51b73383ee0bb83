import { DomainError, StepStatuses, type StepStatus } from '@hms/contracts';

/** What can happen to a step of a request. */
export const StepEvents = [
  /** Its dependencies are settled and its `when` holds: a task is asked for. */
  'activate',
  /** Its `when` is false. */
  'skip',
  /** OMS queued its task (again). */
  'taskQueued',
  /** An attempt failed and OMS will retry. */
  'attemptFailed',
  /** A manager moved its task to another pool. */
  'taskRerouted',
  /** Its task completed. */
  'complete',
  /** Its task is dead (non-optional step), or its `when` could not be evaluated. */
  'fail',
  /** Its task is dead but the step is optional: the workflow goes on without it. */
  'waive',
  /** The request ended before this step did. */
  'cancel',
] as const;
export type StepEvent = (typeof StepEvents)[number];

/** The step lifecycle on one screen. `ready` means "handed to OMS", whatever the task is doing. */
const TRANSITIONS: Record<StepStatus, Partial<Record<StepEvent, StepStatus>>> = {
  pending: { activate: 'ready', skip: 'skipped', fail: 'failed', cancel: 'cancelled' },
  ready: {
    taskQueued: 'ready',
    attemptFailed: 'ready',
    taskRerouted: 'ready',
    complete: 'done',
    fail: 'failed',
    waive: 'skipped',
    cancel: 'cancelled',
  },
  done: {},
  skipped: {},
  failed: {},
  cancelled: {},
};

export function canTransitionStep(status: StepStatus, event: StepEvent): boolean {
  return TRANSITIONS[status][event] !== undefined;
}

/** The statuses a step may take `event` in (for statements that check the status themselves). */
export function stepStatusesAllowing(event: StepEvent): StepStatus[] {
  return StepStatuses.filter((status) => canTransitionStep(status, event));
}

/** The status after `event`; an illegal event throws (CONFLICT). */
export function transitionStep(status: StepStatus, event: StepEvent): StepStatus {
  const next = TRANSITIONS[status][event];
  if (!next) throw new DomainError('CONFLICT', `A ${status} step cannot ${event}`);
  return next;
}

/** Statuses a step never leaves. */
export const TerminalStepStatuses: readonly StepStatus[] = StepStatuses.filter((status) => Object.keys(TRANSITIONS[status]).length === 0);

/** A step that still waits or runs; cancelled when its request ends early. */
export function isOpenStep(status: StepStatus): boolean {
  return !TerminalStepStatuses.includes(status);
}

/** A step that lets the steps after it start. */
export function isSettledStep(status: StepStatus): boolean {
  return status === 'done' || status === 'skipped';
}
