import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsDefined,
  IsIn,
  IsInt,
  IsNotEmptyObject,
  IsObject,
  IsOptional,
  Max,
  Min,
  ValidateNested,
} from 'class-validator';
import type { ErrorCode } from './errors';
import { FixedLimits, INT4_MAX, INT4_MIN, IsBoundedJson, IsSlug, IsText } from './limits';
import { PageQuery } from './pagination';
import { TaskStatus, TaskStatuses } from './statuses';

/**
 * What a lease asks for, without waiting: the body of a lease call less `waitSeconds`, and the
 * `next` of a complete call (the worker's next tasks in the same round trip).
 */
export class NextLease {
  @IsSlug()
  pool: string;

  /**
   * The worker's id (a person's login or a bot instance). A worker token is its own worker: this
   * is then its `sub` (when absent) and must equal it (when given). Managers and services may
   * name one.
   */
  @IsOptional()
  @IsText(FixedLimits.nameLength)
  worker?: string;

  /** The worker's skills: only tasks whose tags are all among these are offered. */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(FixedLimits.tags)
  @IsText(FixedLimits.tagLength, { each: true })
  tags?: string[];

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100)
  max?: number;

  /** Lease length; the step's, else the pool's, when absent. Capped by the pool's `maxLeaseSeconds`. */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(FixedLimits.leaseSeconds)
  leaseSeconds?: number;
}

/** Lease up to `max` tasks of a pool (API.md `POST /v1/pools/:pool/lease`). */
export class LeaseTasksCommand extends NextLease {
  /** Long-poll: wait up to this long for a task when none is available now. */
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(30)
  waitSeconds?: number;
}

/** A task handed to a worker together with its lease. */
export interface LeasedTask {
  id: string;
  requestId: string;
  stepId: string;
  title: string;
  pool: string;
  tags: string[];
  payload: Record<string, unknown>;
  /** What the step gives its task to work on (see the plan's `input:`); `{}` for tasks queued before inputs existed. */
  input: Record<string, unknown>;
  /** 1 for the first attempt. */
  attempt: number;
  /** Opaque; required to heartbeat, complete, fail or release. */
  leaseToken: string;
  leaseExpiresAt: string;
  /**
   * The task's full lease length (the step's, else the pool's), whatever this lease was granted
   * for: a worker that claimed the task briefly (`leaseSeconds` on the lease call) extends to it
   * when the work starts (`extendSeconds` on a heartbeat).
   */
  leaseSeconds: number;
}

export interface LeaseTasksResult {
  tasks: LeasedTask[];
}

/** Base of every call made with a lease. */
export class LeaseHolderCommand {
  @IsText(FixedLimits.idLength)
  taskId: string;

  @IsText(FixedLimits.nameLength)
  leaseToken: string;
}

/** One completion: a task, the lease that proves the caller holds it, and its output. */
export class TaskCompletion extends LeaseHolderCommand {
  @IsOptional()
  @IsObject()
  @IsBoundedJson()
  output?: Record<string, unknown>;
}

/**
 * `POST /v1/tasks/:id/complete`. With `next`, the answer also carries the worker's next lease,
 * taken once the completion is committed: a busy worker pays one round trip per task, not two.
 * `next` never waits; an empty `next.tasks` says "long-poll with a lease call".
 */
export class CompleteTaskCommand extends TaskCompletion {
  @IsOptional()
  @IsNotEmptyObject() // not an array, which @ValidateNested would take item by item
  @ValidateNested()
  @Type(() => NextLease)
  next?: NextLease;
}

/** At most this many completions in one batch-complete call (as many as one lease call can hand out). */
export const COMPLETE_TASKS_MAX = 100;

/**
 * Batch complete (`POST /v1/tasks/complete`): a bot that leased several tasks completes them in
 * one call. Each item is answered as its own `complete` would be, in the same order.
 */
export class CompleteTasksCommand {
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(COMPLETE_TASKS_MAX)
  @ValidateNested({ each: true })
  @Type(() => TaskCompletion)
  items: TaskCompletion[];

  /** As on a single complete: the next lease, taken after the items are settled. */
  @IsOptional()
  @IsNotEmptyObject() // not an array, which @ValidateNested would take item by item
  @ValidateNested()
  @Type(() => NextLease)
  next?: NextLease;
}

/** One item's answer: the task's new status, or the error its own `complete` would have got. */
export type CompleteTaskOutcome = (TaskActionResult & { error?: never }) | { id: string; error: { code: ErrorCode; message: string } };

export interface CompleteTasksResult {
  results: CompleteTaskOutcome[];
  /** Present when the call asked for `next`. */
  next?: LeaseTasksResult;
}

export class TaskErrorInfo {
  @IsText(FixedLimits.errorMessageLength)
  message: string;

  @IsOptional()
  @IsText(FixedLimits.nameLength)
  code?: string;
}

export class FailTaskCommand extends LeaseHolderCommand {
  @IsDefined()
  @ValidateNested()
  @Type(() => TaskErrorInfo)
  error: TaskErrorInfo;

  /** False skips the remaining attempts. */
  @IsOptional()
  @IsBoolean()
  retryable?: boolean;
}

export class HeartbeatTaskCommand extends LeaseHolderCommand {
  /** Capped like `leaseSeconds` by the pool's `maxLeaseSeconds`. */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(FixedLimits.leaseSeconds)
  extendSeconds?: number;
}

/**
 * Without `leaseToken` it is a force-release, which only a manager may make (OMS decides by the
 * caller, see mayForceRelease): a worker or a service gives back only a lease it holds the token of.
 */
export class ReleaseTaskCommand {
  @IsText(FixedLimits.idLength)
  taskId: string;

  @IsOptional()
  @IsText(FixedLimits.nameLength)
  leaseToken?: string;
}

/** Answer to complete, fail and release. */
export interface TaskActionResult {
  id: string;
  status: TaskStatus;
  /** When a failed task will be offered again, if it will. */
  retryAt?: string | null;
}

/** A complete's answer: the task's new status and, when asked for, the next lease. */
export type CompleteTaskResult = TaskActionResult & { next?: LeaseTasksResult };

export interface HeartbeatResult {
  id: string;
  leaseExpiresAt: string;
}

export class RerouteTaskCommand {
  @IsText(FixedLimits.idLength)
  taskId: string;

  @IsSlug()
  pool: string;

  @IsOptional()
  @IsText(FixedLimits.reasonLength, { minLength: 0 })
  reason?: string;
}

/** Tasks a bulk reroute moves per call when the caller gives no `limit`. */
export const REROUTE_QUEUE_DEFAULT_LIMIT = 1000;

/**
 * "I am here and working these pools": keeps a worker online (and its leases safe from the
 * gone-worker sweep) while it makes no other call, e.g. a case-worker reading a long file, or a
 * bot between batches that does not long-poll.
 */
export class WorkerHeartbeatCommand {
  @IsText(FixedLimits.nameLength)
  worker: string;

  /** The pools it is working; it is online in each (at least one). */
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @IsSlug({ each: true })
  pools: string[];
}

export interface WorkerHeartbeatResult {
  worker: string;
  pools: string[];
  /** When OMS saw it, ISO-8601. */
  lastSeenAt: string;
  /**
   * It is declared gone after this long without any call: the smallest liveness window among
   * `pools` (a pool that does not exist yet counts with OMS's default).
   */
  livenessSeconds: number;
}

/**
 * Bulk reroute (`POST /v1/pools/:pool/reroute`): the queued tasks of `pool` that match every
 * given filter move to `toPool`, best first, at most `limit` per call. Leased tasks stay with
 * their holders (reroute those one by one).
 */
export class RerouteQueueCommand {
  /** The pool the tasks leave. */
  @IsSlug()
  pool: string;

  @IsSlug()
  toPool: string;

  @IsOptional()
  @IsText(FixedLimits.reasonLength, { minLength: 0 })
  reason?: string;

  /** Only tasks carrying all of these tags. */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(FixedLimits.tags)
  @IsText(FixedLimits.tagLength, { each: true })
  tags?: string[];

  /** Only tasks of this step. */
  @IsOptional()
  @IsText(FixedLimits.nameLength)
  stepId?: string;

  @IsOptional()
  @IsInt()
  @Min(INT4_MIN)
  @Max(INT4_MAX)
  minPriority?: number;

  @IsOptional()
  @IsInt()
  @Min(INT4_MIN)
  @Max(INT4_MAX)
  maxPriority?: number;

  /** At most this many tasks move in this call ({@link REROUTE_QUEUE_DEFAULT_LIMIT} when absent); `more` says whether others match. */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10_000)
  limit?: number;
}

export interface RerouteQueueResult {
  fromPool: string;
  toPool: string;
  moved: number;
  /** The moved tasks, in the order they were queued in the old pool. */
  taskIds: string[];
  /** True when matching tasks are still queued in the old pool (call again to move them). */
  more: boolean;
}

export class GetTaskQuery {
  @IsText(FixedLimits.idLength)
  id: string;
}

export class ListTasksQuery extends PageQuery {
  @IsOptional()
  @IsText(FixedLimits.idLength)
  pool?: string;

  @IsOptional()
  @IsIn(TaskStatuses)
  status?: TaskStatus;

  @IsOptional()
  @IsText(FixedLimits.idLength)
  requestId?: string;

  @IsOptional()
  @IsText(FixedLimits.nameLength)
  worker?: string;
}

/** A task as stored by OMS. */
export interface TaskView {
  id: string;
  requestId: string;
  stepId: string;
  pool: string;
  title: string;
  tags: string[];
  priority: number;
  status: TaskStatus;
  attempt: number;
  maxAttempts: number;
  payload: Record<string, unknown>;
  input: Record<string, unknown>;
  output: Record<string, unknown> | null;
  lastError: { message: string; code?: string } | null;
  worker: string | null;
  leaseExpiresAt: string | null;
  slaDueAt: string | null;
  availableAt: string;
  queuedAt: string;
  createdAt: string;
  updatedAt: string;
}

export class PeekQueueQuery {
  @IsSlug()
  pool: string;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;
}

/** A queued task as shown by peek. */
export interface QueuedTaskView {
  id: string;
  requestId: string;
  stepId: string;
  title: string;
  status: TaskStatus;
  priority: number;
  slaDueAt: string | null;
  queuedAt: string;
}

export interface QueuePeekResult {
  pool: string;
  depth: number;
  tasks: QueuedTaskView[];
}
