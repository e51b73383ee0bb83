import type { CompleteTaskResult, HeartbeatResult, LeasedTask, NextLease, TaskActionResult } from '@hms/contracts';
import { HmsApiError } from './hms-api-error';
import type { HmsClient } from './hms-client';
import { sleep } from './sleep';
import type { TaskFailure } from './types';

/** The server rejects longer error messages (VALIDATION_FAILED), which would lose the failure. */
const MAX_ERROR_MESSAGE = 4000;

/**
 * An error a handler may throw to control how the task fails: `retryable: false` skips the
 * remaining attempts (bad input will not get better), `code` is kept on the task and the ledger.
 */
export class TaskError extends Error {
  readonly code?: string;
  readonly retryable: boolean;

  constructor(message: string, options: { code?: string; retryable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TaskError';
    if (options.code !== undefined) this.code = options.code;
    this.retryable = options.retryable ?? true;
  }
}

/** Turns anything thrown into the `{message, code?}` the fail call takes. */
export function toTaskFailure(error: unknown): TaskFailure {
  let message: string;
  let code: unknown;
  if (error instanceof Error) {
    message = error.message || error.name;
    code = (error as { code?: unknown }).code;
  } else if (typeof error === 'object' && error !== null && typeof (error as { message?: unknown }).message === 'string') {
    message = (error as { message: string }).message;
    code = (error as { code?: unknown }).code;
  } else {
    message = String(error);
  }
  message = (message || 'task failed').slice(0, MAX_ERROR_MESSAGE);
  return typeof code === 'string' && code.length > 0 ? { message, code } : { message };
}

/**
 * Whether a thrown error leaves the task retryable. An {@link HmsApiError} escaping a handler
 * describes one HTTP call the handler made, not the task, so its `retryable` is not taken as
 * the handler's verdict.
 */
function isRetryable(error: unknown): boolean {
  if (error instanceof HmsApiError) return true;
  return !(typeof error === 'object' && error !== null && (error as { retryable?: unknown }).retryable === false);
}

/** A task leased by this worker, with the calls its lease allows. */
export class WorkItem {
  readonly id: string;
  readonly requestId: string;
  readonly stepId: string;
  readonly title: string;
  readonly pool: string;
  readonly tags: string[];
  readonly payload: Record<string, unknown>;
  /** What the step gives this task to work on: its `input:`, else the payload and the outputs of the steps before it. */
  readonly input: Record<string, unknown>;
  /** 1 on the first attempt. */
  readonly attempt: number;
  /** Proves this worker holds the lease; sent with every call below. */
  readonly leaseToken: string;
  private expiresAt: string;

  constructor(
    private readonly client: HmsClient,
    task: LeasedTask,
    pool: string,
  ) {
    this.id = task.id;
    this.requestId = task.requestId;
    this.stepId = task.stepId;
    this.title = task.title;
    this.pool = task.pool ?? pool;
    this.tags = task.tags ?? [];
    this.payload = task.payload ?? {};
    this.input = task.input ?? {};
    this.attempt = task.attempt;
    this.leaseToken = task.leaseToken;
    this.expiresAt = task.leaseExpiresAt;
  }

  /** When the lease runs out unless heartbeated; moves forward with each heartbeat. */
  get leaseExpiresAt(): string {
    return this.expiresAt;
  }

  /**
   * Finishes the task with its output; a repeat of the same call is a no-op on the server. With
   * `next`, the answer's `next.tasks` are leased to the worker in the same call.
   */
  complete(output: Record<string, unknown> = {}, options: { next?: NextLease } = {}): Promise<CompleteTaskResult> {
    return this.client.tasks.complete(this.id, this.leaseToken, output, options);
  }

  /**
   * Fails this attempt. Retried with backoff unless `retryable` is false; by default the error's
   * own `retryable: false` (see {@link TaskError}) is honoured.
   */
  fail(error: unknown, options: { retryable?: boolean } = {}): Promise<TaskActionResult> {
    const retryable = options.retryable ?? isRetryable(error);
    return this.client.tasks.fail(this.id, this.leaseToken, toTaskFailure(error), retryable);
  }

  /** Extends the lease (by the server's default or `extendSeconds`). */
  async heartbeat(extendSeconds?: number): Promise<HeartbeatResult> {
    const result = await this.client.tasks.heartbeat(this.id, this.leaseToken, extendSeconds);
    if (result?.leaseExpiresAt) this.expiresAt = result.leaseExpiresAt;
    return result;
  }

  /** Gives the task back to the queue at once; the attempt is not counted. */
  release(): Promise<TaskActionResult> {
    return this.client.tasks.release(this.id, this.leaseToken);
  }
}

/** What a handler gets besides the item. */
export interface HandlerContext {
  /** Aborts when the run stops or the lease is lost; long handlers should stop early then. */
  signal: AbortSignal;
}

/** Processes one task; the returned object (or `{}`) becomes the task's output. */
export type TaskHandler = (item: WorkItem, context: HandlerContext) => Promise<Record<string, unknown> | void> | Record<string, unknown> | void;

/** Options of {@link Pool.login}. */
export interface LoginOptions {
  /** The worker's skills: only tasks whose tags are all among these are offered. */
  tags?: string[];
  /** Lease length to ask for; the step's or pool's default otherwise. */
  leaseSeconds?: number;
}

/** Options of {@link PoolWorker.nextTask} and {@link PoolWorker.nextTasks}. */
export interface NextTaskOptions {
  /** Long-poll up to this long (0..30) for a task when none is queued. */
  waitSeconds?: number;
  signal?: AbortSignal;
}

/** Options of {@link PoolWorker.run}. */
export interface RunOptions {
  /** Stops the loop: no new leases; running handlers see their signal abort and are awaited. */
  signal?: AbortSignal;
  /** Tasks handled at the same time (default 1). */
  concurrency?: number;
  /** Heartbeat period; default a third of the lease's remaining time, between 1 s and 5 min. */
  heartbeatEverySeconds?: number;
  /** How far each heartbeat extends the lease; the server's default when absent. */
  extendSeconds?: number;
  /** Long-poll of each lease call (default 20, max 30). */
  waitSeconds?: number;
  /**
   * Told about errors the loop survives (a failed complete, a lost lease, a gateway hiccup).
   * Defaults to a line on stderr, because a silent worker that drops results is worse.
   */
  onError?: (error: unknown, item?: WorkItem) => void;
}

/** What a finished {@link PoolWorker.run} did. */
export interface RunSummary {
  completed: number;
  failed: number;
  released: number;
  /** Handlers whose result was dropped because the lease was lost meanwhile. */
  lost: number;
}

const LEASE_GONE_CODES = new Set(['LEASE_LOST', 'NOT_FOUND', 'CONFLICT']);
const MIN_EMPTY_POLL_MS = 1_000;
const MAX_BACKOFF_MS = 30_000;

function defaultOnError(error: unknown, item?: WorkItem): void {
  const where = item ? ` (task ${item.id})` : '';
  const what = error instanceof HmsApiError ? `${error.code} ${error.message}` : error instanceof Error ? error.message : String(error);
  console.error(`[hms worker]${where} ${what}`);
}

/** A worker logged in to one pool: leases tasks there as `workerId`. */
export class PoolWorker {
  constructor(
    private readonly client: HmsClient,
    readonly pool: string,
    readonly workerId: string,
    private readonly options: LoginOptions = {},
  ) {}

  /** Leases one task, waiting up to `waitSeconds` (default 20) for one; null when none came. */
  async nextTask(options: NextTaskOptions = {}): Promise<WorkItem | null> {
    const [item] = await this.lease(1, options.waitSeconds ?? 20, options.signal);
    return item ?? null;
  }

  /** Leases up to `max` (1..100) tasks at once, for bots that work in batches. */
  nextTasks(max: number, options: NextTaskOptions = {}): Promise<WorkItem[]> {
    return this.lease(Math.min(100, Math.max(1, Math.floor(max))), options.waitSeconds ?? 0, options.signal);
  }

  /**
   * Leases and handles tasks until the signal aborts: the handler's return value completes the
   * task, a throw fails it (non-retryably when the error says `retryable: false`), and the lease
   * is heartbeated while the handler runs. Resolves once every running handler has settled;
   * rejects only for errors retrying cannot fix (e.g. the token may not lease from this pool).
   */
  async run(handler: TaskHandler, options: RunOptions = {}): Promise<RunSummary> {
    const stop = new AbortController();
    const onAbort = (): void => stop.abort(options.signal?.reason);
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });
    const summary: RunSummary = { completed: 0, failed: 0, released: 0, lost: 0 };
    const onError = options.onError ?? defaultOnError;
    const waitSeconds = Math.min(30, Math.max(0, options.waitSeconds ?? 20));
    let fatal: unknown;

    const slot = async (): Promise<void> => {
      let backoffMs = 1_000;
      // Leased in the answer of the slot's last complete: a busy worker pays one call per task.
      let carried: WorkItem | null = null;
      while (!stop.signal.aborted || carried) {
        const startedAt = Date.now();
        let item: WorkItem | null;
        try {
          item = carried ?? (await this.nextTask({ waitSeconds, signal: stop.signal }));
          carried = null;
          backoffMs = 1_000;
        } catch (error) {
          if (stop.signal.aborted) break;
          if (error instanceof HmsApiError && error.retryable) {
            onError(error);
            await sleep(backoffMs, stop.signal);
            backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS);
            continue;
          }
          fatal ??= error;
          stop.abort(error);
          break;
        }
        if (!item) {
          // A server that answers an empty lease at once (no long-poll) must not be hammered.
          const elapsed = Date.now() - startedAt;
          if (elapsed < MIN_EMPTY_POLL_MS) await sleep(MIN_EMPTY_POLL_MS - elapsed, stop.signal);
          continue;
        }
        if (stop.signal.aborted) {
          // Leased in the same instant the run was stopped: hand it straight back.
          const unwanted = item;
          await unwanted.release().then(
            () => summary.released++,
            (error: unknown) => onError(error, unwanted),
          );
          break;
        }
        carried = await this.handle(item, handler, stop.signal, options, summary, onError);
      }
    };

    try {
      const concurrency = Math.max(1, Math.floor(options.concurrency ?? 1));
      await Promise.all(Array.from({ length: concurrency }, () => slot()));
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
    if (fatal !== undefined) throw fatal;
    return summary;
  }

  /**
   * Completes `item` and leases this worker's next task in the same call (a complete with
   * `next`): a busy worker pays one round trip per task. `next` is null when nothing was queued
   * for it; then long-poll with {@link nextTask}.
   */
  async completeAndLeaseNext(item: WorkItem, output: Record<string, unknown> = {}): Promise<{ result: CompleteTaskResult; next: WorkItem | null }> {
    const result = await item.complete(output, { next: { pool: this.pool, ...this.asked(1) } });
    const [task] = result?.next?.tasks ?? [];
    return { result, next: task ? new WorkItem(this.client, task, this.pool) : null };
  }

  private async lease(max: number, waitSeconds: number, signal?: AbortSignal): Promise<WorkItem[]> {
    const { tasks } = await this.client.tasks.lease(this.pool, { ...this.asked(max), waitSeconds }, signal ? { signal } : {});
    return tasks.map((task) => new WorkItem(this.client, task, this.pool));
  }

  /** What this worker's leases ask for, in a lease call or as the `next` of a complete. */
  private asked(max: number): Omit<NextLease, 'pool'> {
    const { tags, leaseSeconds } = this.options;
    return { worker: this.workerId, ...(tags ? { tags } : {}), max, ...(leaseSeconds !== undefined ? { leaseSeconds } : {}) };
  }

  private async handle(
    item: WorkItem,
    handler: TaskHandler,
    runSignal: AbortSignal,
    options: RunOptions,
    summary: RunSummary,
    onError: (error: unknown, item?: WorkItem) => void,
  ): Promise<WorkItem | null> {
    const itemAbort = new AbortController();
    const onRunAbort = (): void => itemAbort.abort(runSignal.reason);
    runSignal.addEventListener('abort', onRunAbort, { once: true });
    let leaseLost = false;
    let timer: NodeJS.Timeout | undefined;
    let finished = false;

    const periodMs = this.heartbeatPeriodMs(item, options.heartbeatEverySeconds);
    const beat = async (): Promise<void> => {
      try {
        await item.heartbeat(options.extendSeconds);
      } catch (error) {
        if (error instanceof HmsApiError && LEASE_GONE_CODES.has(error.code)) {
          leaseLost = true;
          itemAbort.abort(error);
        }
        onError(error, item);
      }
      if (!finished && !leaseLost) timer = setTimeout(() => void beat(), periodMs);
    };
    timer = setTimeout(() => void beat(), periodMs);

    let output: Record<string, unknown> | void = undefined;
    let thrown: { error: unknown } | undefined;
    try {
      output = await handler(item, { signal: itemAbort.signal });
    } catch (error) {
      thrown = { error };
    } finally {
      finished = true;
      clearTimeout(timer);
      runSignal.removeEventListener('abort', onRunAbort);
    }

    if (leaseLost) {
      // Another worker may own the task now; completing or failing would only earn a 409.
      summary.lost++;
      return null;
    }
    try {
      if (!thrown) {
        // Stopping: take no more work. Else the next task rides on the complete's answer.
        if (runSignal.aborted) {
          await item.complete(output ?? {});
          summary.completed++;
          return null;
        }
        const { next } = await this.completeAndLeaseNext(item, output ?? {});
        summary.completed++;
        return next;
      } else if (runSignal.aborted) {
        // The handler gave up because we are shutting down, not because the task is bad.
        await item.release();
        summary.released++;
      } else {
        await item.fail(thrown.error);
        summary.failed++;
      }
    } catch (error) {
      onError(error, item);
    }
    return null;
  }

  private heartbeatPeriodMs(item: WorkItem, everySeconds: number | undefined): number {
    if (everySeconds !== undefined && everySeconds > 0) return everySeconds * 1000;
    const remaining = Date.parse(item.leaseExpiresAt) - Date.now();
    // A third leaves two more tries before expiry; the bounds absorb clock skew and odd leases.
    return Math.min(300_000, Math.max(1_000, Number.isFinite(remaining) ? remaining / 3 : 60_000));
  }
}

/** A pool as seen by a worker; `login` names the worker that leases from it. */
export class Pool {
  constructor(
    readonly name: string,
    private readonly client: HmsClient,
  ) {}

  /** A worker of this pool; no server call is made until it leases. */
  login(workerId: string, options: LoginOptions = {}): PoolWorker {
    return new PoolWorker(this.client, this.name, workerId, options);
  }
}
