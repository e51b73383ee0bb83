import { randomUUID } from 'node:crypto';
import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Subscription } from '@nats-io/transport-node';
import { SignalSubjects, type LeasedTask } from '@hms/contracts';
import { LOGGER, NatsBus } from '@hms/platform';
import type { Logger } from 'pino';

/** What a signal says: a pool, and the tags of each task that became available (null: unknown). */
interface TaskAvailableSignal {
  pool: string;
  tags: string[][] | null;
  /** The replica that sent it, which has woken its own waiters already. */
  origin?: string;
}

/** Above this many tasks a signal says "many" (null) and wakes every waiter of the pool. */
const MAX_TASKS_PER_SIGNAL = 200;

/** Timers for tasks leaving backoff are kept only this far ahead; the waiters' re-check covers the rest. */
const MAX_DELAYED_SIGNAL_MS = 10 * 60_000;

/** What a lease granted straight to a parked waiter takes from its lease call. */
export interface WaiterLeaseTerms {
  worker: string;
  /** Lease length the caller asked for; null uses the task's own. */
  leaseSeconds: number | null;
  /** Of the `oms.task.leased` event: who asked, and the lease call's trace headers (JSON) or null. */
  actor: string;
  traceHeaders: string | null;
}

/** One long-polling lease call, waiting for a task it could take. */
export class LeaseWaiter {
  /** The tags of the announced tasks this waiter was woken for since it last looked. */
  private wokenFor: string[][] = [];
  private signalled = false;
  private resolve?: () => void;
  /** Promised a task being queued right now (see TaskSignals.reserveParked): its wait may not end before it is settled. */
  private reserved = false;
  private handed: LeasedTask[] | null = null;

  constructor(
    readonly pool: string,
    private readonly tags: ReadonlySet<string> | null,
    private readonly max: number,
    /** Present when a task may be leased to it while it is parked. */
    readonly terms: WaiterLeaseTerms | null = null,
  ) {}

  /** Waiting in {@link wait}, neither woken nor promised a task: free to be handed one. */
  get isParked(): boolean {
    return this.resolve !== undefined && !this.reserved && this.handed === null;
  }

  /** Tasks leased to it while it was parked; its lease call answers with them. */
  get handedOver(): readonly LeasedTask[] | null {
    return this.handed;
  }

  reserve(): void {
    this.reserved = true;
  }

  /** The reserved task was leased to it: its wait ends with it. */
  handOver(tasks: LeasedTask[]): void {
    this.reserved = false;
    this.handed = tasks;
    this.resolve?.();
  }

  /** No task after all (the step had one, or the statement failed): it looks for itself. */
  cancelReservation(): void {
    this.reserved = false;
    this.signalled = true;
    this.resolve?.();
  }

  /** True when a task with these tags would be offered to this waiter. */
  accepts(taskTags: readonly string[]): boolean {
    return this.tags === null || taskTags.every((tag) => this.tags!.has(tag));
  }

  /** Room for one more announced task before its next look (it takes at most `max`; a reserved one is promised one). */
  get hasRoom(): boolean {
    return this.wokenFor.length + (this.reserved ? 1 : 0) < this.max;
  }

  /** Woken since the last {@link rearm}. */
  get isSignalled(): boolean {
    return this.signalled;
  }

  /** Announced tasks it was woken for since its last look, which that look may not have seen. */
  get unseen(): readonly string[][] {
    return this.wokenFor;
  }

  wake(taskTags?: readonly string[]): void {
    if (taskTags) this.wokenFor.push([...taskTags]);
    this.signalled = true;
    // A reserved waiter is ended by handOver or cancelReservation; ending it now could lose the task being leased to it.
    if (!this.reserved) this.resolve?.();
  }

  /** Called before each lease attempt: what it finds is what the earlier wake-ups were about. */
  rearm(): void {
    this.wokenFor = [];
    this.signalled = false;
  }

  /** Resolves on a wake-up (at once if one came since rearm) or after `ms`. */
  wait(ms: number): Promise<void> {
    if (this.signalled) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.resolve = undefined;
        resolve();
      };
      const timer = setTimeout(() => {
        if (!this.reserved) done();
      }, Math.max(0, ms));
      this.resolve = done;
    });
  }
}

/**
 * "A task became available in pool P", between replicas. Whoever queues or requeues a task
 * publishes a core-NATS signal after its commit; every replica subscribes once to all pools and
 * wakes its own waiters of P, first come first served: for each announced task, the longest
 * waiting caller that would be offered it (tags) and still has room (max). So one new task
 * wakes one caller per replica, not all of them. Signals are not persisted: a lost one costs a
 * waiter at most its periodic re-check.
 */
@Injectable()
export class TaskSignals implements OnApplicationBootstrap, OnApplicationShutdown {
  /** Per pool, in arrival order (a Set iterates in insertion order). */
  private readonly waiters = new Map<string, Set<LeaseWaiter>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private subscription?: Subscription;
  private closing = false;
  private readonly origin = randomUUID();

  constructor(
    private readonly bus: NatsBus,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    // Every pool: the `>` wildcard also matches pool names with dots, which `*` would not.
    this.subscription = this.bus.connection.subscribe(this.bus.subject(SignalSubjects.anyPoolTaskAvailable), {
      callback: (error, message) => {
        if (error) {
          this.logger.warn({ err: error }, 'task-available subscription error');
          return;
        }
        try {
          const signal = message.json<TaskAvailableSignal>();
          if (signal.origin !== this.origin) this.dispatch(signal);
        } catch (cause) {
          this.logger.warn({ err: cause }, 'ignoring a malformed task-available signal');
        }
      },
    });
  }

  onApplicationShutdown(): void {
    this.close();
    this.subscription?.unsubscribe();
  }

  /** True once the process is stopping: waiting lease calls answer empty at once. */
  get isClosing(): boolean {
    return this.closing;
  }

  /** Ends every wait (the callers answer `{tasks: []}` and can retry elsewhere). */
  close(): void {
    this.closing = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const waiters of this.waiters.values()) for (const waiter of waiters) waiter.wake();
  }

  /** Tells every replica that these tasks can be leased now. Call after the commit. */
  announce(pool: string, taskTags: string[][]): void {
    if (taskTags.length === 0 || this.closing) return;
    const signal: TaskAvailableSignal = { pool, tags: taskTags.length > MAX_TASKS_PER_SIGNAL ? null : taskTags, origin: this.origin };
    // Our own waiters first, without the round trip through NATS (our copy is then ignored).
    this.dispatch(signal);
    try {
      this.bus.connection.publish(this.bus.subject(SignalSubjects.poolTaskAvailable(pool)), JSON.stringify(signal));
    } catch (error) {
      this.logger.warn({ err: error, pool }, 'could not publish a task-available signal');
    }
  }

  /** Announces a task that leaves backoff at `at` (best effort: this replica may be gone by then). */
  announceAt(pool: string, taskTags: string[][], delayMs: number): void {
    if (delayMs <= 0) return this.announce(pool, taskTags);
    if (delayMs > MAX_DELAYED_SIGNAL_MS || this.closing) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.announce(pool, taskTags);
    }, delayMs);
    timer.unref();
    this.timers.add(timer);
  }

  /**
   * Joins the queue of waiters of a pool; call {@link leave} when the lease call ends. With
   * `terms`, a task queued on this replica may be leased to it while it is parked.
   */
  join(pool: string, workerTags: string[] | undefined, max: number, terms: WaiterLeaseTerms | null = null): LeaseWaiter {
    const waiter = new LeaseWaiter(pool, workerTags ? new Set(workerTags) : null, max, terms);
    let waiters = this.waiters.get(pool);
    if (!waiters) this.waiters.set(pool, (waiters = new Set()));
    waiters.add(waiter);
    if (this.closing) waiter.wake();
    return waiter;
  }

  /**
   * Leaves the queue. A waiter woken while it was already looking (and then returned with what
   * that look found, or at its deadline) may not have used those wake-ups: they pass to the
   * next in line, who looks again; otherwise that announced task would wait for a re-check.
   */
  leave(waiter: LeaseWaiter): void {
    const waiters = this.waiters.get(waiter.pool);
    if (!waiters) return;
    waiters.delete(waiter);
    if (waiters.size === 0) this.waiters.delete(waiter.pool);
    else if (waiter.unseen.length > 0 && !this.closing) wakeWaiters(waiters, waiter.unseen);
  }

  /**
   * The waiter a task with these tags would wake first (first come, first served, as
   * {@link wakeWaiters}), reserved for a lease granted by the statement that queues the task,
   * so the task reaches it without a wake-up and a lease statement of its own. Only when that
   * waiter is parked and has lease terms; otherwise none, and the task is announced as usual.
   * The caller must end the reservation: {@link LeaseWaiter.handOver} or
   * {@link LeaseWaiter.cancelReservation}.
   */
  reserveParked(pool: string, taskTags: readonly string[]): LeaseWaiter | null {
    if (this.closing) return null;
    const waiters = this.waiters.get(pool);
    if (!waiters) return null;
    let first: LeaseWaiter | undefined;
    for (const waiter of waiters) {
      if (waiter.hasRoom && waiter.accepts(taskTags)) {
        first = waiter;
        break;
      }
    }
    if (!first?.isParked || !first.terms) return null;
    first.reserve();
    return first;
  }

  /** Number of lease calls of a pool waiting on this replica. */
  waitingIn(pool: string): number {
    return this.waiters.get(pool)?.size ?? 0;
  }

  private dispatch(signal: TaskAvailableSignal): void {
    const waiters = this.waiters.get(signal.pool);
    if (waiters) wakeWaiters(waiters, Array.isArray(signal.tags) ? signal.tags : null);
  }
}

/**
 * First come, first served: for each announced task (its tags), wakes the longest-waiting
 * waiter that would be offered it and has room left for it (`max`). `null` (too many to list)
 * wakes everyone. `waiters` must iterate in arrival order.
 */
export function wakeWaiters(waiters: Iterable<LeaseWaiter>, announced: readonly (readonly string[])[] | null): void {
  if (announced === null) {
    for (const waiter of waiters) waiter.wake();
    return;
  }
  const line = [...waiters];
  for (const taskTags of announced) {
    const tags = Array.isArray(taskTags) ? taskTags : [];
    line.find((waiter) => waiter.hasRoom && waiter.accepts(tags))?.wake(tags);
  }
}
