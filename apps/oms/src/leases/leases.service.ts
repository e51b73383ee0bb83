import { performance } from 'node:perf_hooks';
import { Inject, Injectable } from '@nestjs/common';
import {
  DomainError,
  type Actor,
  type CompleteTaskCommand,
  type CompleteTaskResult,
  type CompleteTasksCommand,
  type CompleteTasksResult,
  type FailTaskCommand,
  type HeartbeatResult,
  type HeartbeatTaskCommand,
  type LeasedTask,
  type LeaseTasksCommand,
  type LeaseTasksResult,
  type NextLease,
  type ReleaseTaskCommand,
  type TaskActionResult,
  type TaskCompletion,
  actingWorker,
  isUuid,
  mayForceRelease,
  requiredLeaseHolder,
} from '@hms/contracts';
import { assertRoomFor, CLOCK, currentTraceHeaders, DERIVED_MESSAGE_RESERVE_BYTES, EventOutbox, fitsIn, GenericPlanPool, GroupCommit, payloadTooLarge, type Clock, type Settled } from '@hms/platform';
import { DataSource } from 'typeorm';
import { AfterCommit } from '../database/after-commit';
import { OmsConfig } from '../oms.config';
import { failureEvent, transitionTask } from '../tasks/task.state';
import type { EndedOutcome } from '../tasks/task.entity';
import { backoffDelayMs } from './backoff';
import { lastSeenResolutionMs, longPollLookMs } from '../workers/liveness-window';
import { WorkerPresence } from '../workers/worker-presence';
import { acquireLeases, type AcquiredLeaseRow } from './lease-acquire.sql';
import { completeLeases, type CompletionInput } from './lease-complete.sql';
import { newLeaseCredentials } from './lease-credentials';
import { applyFailure, lockTaskForFailure } from './lease-fail.sql';
import { explainLeaseMiss, refuseForceRelease, refuseOtherHolder, repeatedOutcome } from './lease-holder.sql';
import { completionBatchSize, leasesGranted, leasesHandedOff } from './lease-metrics';
import { releaseLease } from './lease-release.sql';
import { renewLease } from './lease-renew.sql';
import { TaskSignals } from './task-signals';

/** What a lease answer adds around its tasks: `{"ok":true,"result":{"tasks":[…]}}`, with room to spare. */
const LEASE_ANSWER_ENVELOPE_BYTES = 64;

/** A lease call with the worker it acts as settled (see actingWorker). */
type WorkerLease = LeaseTasksCommand & { worker: string };

/** Most completions in one statement: bounds its size and the wait of the last caller. */
const COMPLETE_BATCH_MAX = 200;

/** A DomainError becomes that call's answer; anything else fails the whole batch (each item is then retried alone). */
async function settle<R>(answer: Promise<R>): Promise<Settled<R>> {
  try {
    return { ok: true, value: await answer };
  } catch (error) {
    if (error instanceof DomainError) return { ok: false, error };
    throw error;
  }
}

/** The lease path: lease (with long-poll), heartbeat, complete, fail, release. */
@Injectable()
export class LeasesService {
  private readonly completions = new GroupCommit<CompletionInput, TaskActionResult>((batch) => this.completeBatch(batch), {
    maxBatch: COMPLETE_BATCH_MAX,
    keyOf: (completion) => completion.taskId,
  });

  constructor(
    private readonly dataSource: DataSource,
    private readonly genericPlans: GenericPlanPool,
    private readonly signals: TaskSignals,
    private readonly afterCommit: AfterCommit,
    private readonly config: OmsConfig,
    private readonly presence: WorkerPresence,
    private readonly outbox: EventOutbox,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /**
   * Leases up to `max` tasks. With `waitSeconds`, waits (holding no connection) until a task
   * is announced for this pool, and returns as soon as one is leased or at the deadline.
   * Only as many as fit in an answer of `maxPayload` bytes (NATS's limit) are leased; if the
   * best one alone does not fit, PAYLOAD_TOO_LARGE, and it stays queued.
   */
  async lease(asked: LeaseTasksCommand, actor: Actor, maxPayload: number): Promise<LeaseTasksResult> {
    const command: WorkerLease = { ...asked, worker: actingWorker(actor, asked.worker) };
    await this.presence.seen(command.worker, command.pool, actor.id);
    const replyBudgetBytes = maxPayload - LEASE_ANSWER_ENVELOPE_BYTES;
    const waitMs = (command.waitSeconds ?? 0) * 1000;
    if (waitMs <= 0) return { tasks: await this.tryLease(command, actor, replyBudgetBytes) };
    const deadline = performance.now() + waitMs;
    // Also look again now and then without a signal: signals are fire-and-forget, and a task
    // leaving its backoff on a replica that has stopped since announces nothing. Each look also
    // keeps the parked worker seen.
    const lookEveryMs = longPollLookMs(this.config.OMS_LONG_POLL_RECHECK_MS, this.config.OMS_WORKER_LIVENESS_SECONDS);
    // Join before the first look, so a task announced while we look is not missed. The terms
    // let a task queued on this replica while we are parked be leased to us by its queueing
    // statement (TasksService.queueLoneStep).
    const waiter = this.signals.join(command.pool, command.tags, command.max ?? 1, {
      worker: command.worker,
      leaseSeconds: command.leaseSeconds ?? null,
      actor: actor.id,
      traceHeaders: currentTraceHeaders(),
    });
    try {
      for (;;) {
        waiter.rearm();
        const tasks = await this.tryLease(command, actor, replyBudgetBytes);
        if (tasks.length > 0) return { tasks };
        const left = deadline - performance.now();
        if (left <= 0 || this.signals.isClosing) return { tasks: [] };
        await waiter.wait(Math.min(left, lookEveryMs));
        if (waiter.handedOver) {
          leasesGranted.inc({ pool: command.pool }, waiter.handedOver.length);
          leasesHandedOff.inc({ pool: command.pool }, waiter.handedOver.length);
          return { tasks: [...waiter.handedOver] };
        }
      }
    } finally {
      this.signals.leave(waiter);
    }
  }

  private async tryLease(command: WorkerLease, actor: Actor, replyBudgetBytes: number): Promise<LeasedTask[]> {
    const max = command.max ?? 1;
    const { leaseTokens, leaseIds } = newLeaseCredentials(max);
    const { rows, tooLarge } = await acquireLeases(this.genericPlans, {
      pool: command.pool,
      worker: command.worker,
      workerTags: command.tags ?? null,
      max,
      leaseSeconds: command.leaseSeconds ?? null,
      now: this.clock.now(),
      leaseTokens,
      leaseIds,
      actor: actor.id,
      traceHeaders: currentTraceHeaders(),
      replyBudgetBytes,
      seenResolutionMs: lastSeenResolutionMs(this.config.OMS_WORKER_LIVENESS_SECONDS),
    });
    if (tooLarge) {
      // Only a task queued before NATS's max_payload was lowered gets here (a larger one is
      // refused where it is created). It stays queued: an operator reroutes or cancels it.
      throw new DomainError('PAYLOAD_TOO_LARGE', `Task '${tooLarge.taskId}' is too large to hand out: about ${tooLarge.bytes} bytes where at most ${replyBudgetBytes} fit in an answer`, [
        { path: 'tasks[0]', message: `task ${tooLarge.taskId} exceeds NATS max_payload; it stays queued` },
      ]);
    }
    if (rows.length > 0) {
      this.outbox.kick();
      leasesGranted.inc({ pool: command.pool }, rows.length);
    }
    return rows.map(toLeasedTask);
  }

  /** Extends a lease from now; one statement, no event. */
  async heartbeat(command: HeartbeatTaskCommand, actor: Actor): Promise<HeartbeatResult> {
    const holder = requiredLeaseHolder(actor);
    if (!isUuid(command.taskId)) throw DomainError.notFound('Task', command.taskId);
    const db = this.dataSource.manager;
    const row = await renewLease(db, {
      taskId: command.taskId,
      leaseToken: command.leaseToken,
      now: this.clock.now(),
      extendSeconds: command.extendSeconds ?? null,
      holder,
    });
    if (!row) {
      await explainLeaseMiss(db, command.taskId, command.leaseToken, 'heartbeat', holder);
      throw new DomainError('LEASE_LOST', `The lease on task '${command.taskId}' is not held with this token`);
    }
    return { id: row.id, leaseExpiresAt: row.lease_expires_at.toISOString() };
  }

  /**
   * Completes a task and, with `next`, leases the worker's next tasks once the completion has
   * settled (a completion that fails leases nothing).
   */
  async complete(command: CompleteTaskCommand, actor: Actor, maxPayload: number): Promise<CompleteTaskResult> {
    const next = command.next && this.nextLeaseOf(command.next, actor);
    const result = await this.completeOne(command, actor, maxPayload);
    return next ? { ...result, next: await this.leaseNext(next, actor, maxPayload, result) } : result;
  }

  /**
   * A bot's batch of completions in one call: each item goes into the group commit like a single
   * complete (so they usually share one statement) and is answered as its own call would be.
   */
  async completeMany(command: CompleteTasksCommand, actor: Actor, maxPayload: number): Promise<CompleteTasksResult> {
    const next = command.next && this.nextLeaseOf(command.next, actor);
    const settled = await Promise.allSettled(command.items.map((item) => this.completeOne(item, actor, maxPayload)));
    const answer: CompleteTasksResult = {
      results: settled.map((outcome, i) => {
        if (outcome.status === 'fulfilled') return outcome.value;
        if (!(outcome.reason instanceof DomainError)) throw outcome.reason;
        return { id: command.items[i]!.taskId, error: { code: outcome.reason.code, message: outcome.reason.message } };
      }),
    };
    return next ? { ...answer, next: await this.leaseNext(next, actor, maxPayload, answer) } : answer;
  }

  /**
   * Completions arriving together share one statement (see GroupCommit): a bot completing its
   * batch of ten costs one round trip and one commit, not ten.
   */
  private async completeOne(completion: TaskCompletion, actor: Actor, maxPayload: number): Promise<TaskActionResult> {
    if (!isUuid(completion.taskId)) throw DomainError.notFound('Task', completion.taskId);
    const outputJson = JSON.stringify(completion.output ?? {});
    // The output travels on in `oms.task.completed`, which is written by SQL (not through
    // emit, which measures): an output that would not fit must be refused here, not in the relay.
    if (!fitsIn(outputJson, DERIVED_MESSAGE_RESERVE_BYTES, maxPayload)) {
      throw payloadTooLarge('The output', Buffer.byteLength(outputJson), maxPayload - DERIVED_MESSAGE_RESERVE_BYTES, 'output');
    }
    return this.completions.submit({
      taskId: completion.taskId,
      leaseToken: completion.leaseToken,
      outputJson,
      outcome: { action: 'complete', result: { id: completion.taskId, status: 'completed' } },
      holder: requiredLeaseHolder(actor),
      actor: actor.id,
      traceHeaders: currentTraceHeaders(),
    });
  }

  /** The worker a `next` leases as, settled before anything is completed: a refusal changes nothing. */
  private nextLeaseOf(next: NextLease, actor: Actor): WorkerLease {
    return { ...next, worker: actingWorker(actor, next.worker) };
  }

  /**
   * The lease a complete takes on its way out: what a lease call without `waitSeconds` would
   * answer, in the room the completion's own answer leaves. The completion is committed by now,
   * so a lease that cannot be given (its one task too large for the answer, say) is answered as
   * no tasks rather than as the call's error; the worker's next lease call says why.
   */
  private async leaseNext(next: WorkerLease, actor: Actor, maxPayload: number, completed: object): Promise<LeaseTasksResult> {
    await this.presence.seen(next.worker, next.pool, actor.id);
    const replyBudgetBytes = maxPayload - LEASE_ANSWER_ENVELOPE_BYTES - Buffer.byteLength(JSON.stringify(completed));
    try {
      return { tasks: await this.tryLease(next, actor, replyBudgetBytes) };
    } catch (error) {
      if (error instanceof DomainError && error.code === 'PAYLOAD_TOO_LARGE') return { tasks: [] };
      throw error;
    }
  }

  private async completeBatch(batch: CompletionInput[]): Promise<Array<Settled<TaskActionResult>>> {
    completionBatchSize.observe(batch.length);
    // The completion time is read once a connection is held, so waiting for one does not make
    // a completion look older than it is.
    const rows = await this.genericPlans.onConnection((db) => completeLeases(db, batch, this.clock.now(), lastSeenResolutionMs(this.config.OMS_WORKER_LIVENESS_SECONDS)));
    const completed = new Set(rows.map((row) => row.id));
    if (completed.size > 0) this.outbox.kick();
    const results: Array<Settled<TaskActionResult>> = [];
    for (const input of batch) {
      // A miss is explained from the row as it is now: a repeat of a call that succeeded, or LEASE_LOST.
      results.push(completed.has(input.taskId) ? { ok: true, value: input.outcome.result } : await settle(explainLeaseMiss(this.dataSource.manager, input.taskId, input.leaseToken, 'complete', input.holder)));
    }
    return results;
  }

  /** Retried after a backoff while attempts remain and the error is retryable; dead otherwise. */
  async fail(command: FailTaskCommand, actor: Actor, wire: { requestBytes: number; maxPayload: number }): Promise<TaskActionResult> {
    // The contract class validates `error` only when present (no @IsDefined on it).
    if (typeof command.error?.message !== 'string') {
      throw new DomainError('VALIDATION_FAILED', 'The request is not valid', [{ path: 'error', message: 'error must be an object with a message' }]);
    }
    if (!isUuid(command.taskId)) throw DomainError.notFound('Task', command.taskId);
    // The error travels on: in `oms.task.failed` and `oms.task.dead`, then in OPS's alert and its escalation.
    assertRoomFor(command.error, wire, 'The error', 'error');
    const error = { message: command.error.message, ...(command.error.code !== undefined ? { code: command.error.code } : {}) };
    const holder = requiredLeaseHolder(actor);
    return this.outbox.transaction(async (tx, emit) => {
      const task = await lockTaskForFailure(tx, command.taskId);
      if (!task) throw DomainError.notFound('Task', command.taskId);
      refuseOtherHolder(task, command.leaseToken, holder);
      if (task.status !== 'leased' || task.lease_token !== command.leaseToken) {
        const repeated = repeatedOutcome(task, command.leaseToken, 'fail');
        if (repeated) return repeated;
        throw new DomainError('LEASE_LOST', `The lease on task '${task.id}' is not held with this token (it expired, was revoked or ended)`);
      }
      const event = failureEvent({ attempt: task.attempt, maxAttempts: task.max_attempts }, command.retryable);
      const status = transitionTask(task.status, event) as 'queued' | 'dead';
      const now = this.clock.now();
      const delayMs = event === 'fail-retry' ? backoffDelayMs(task.retry, task.attempt) : 0;
      const retryAt = event === 'fail-retry' ? new Date(now.getTime() + delayMs) : null;
      const outcome: EndedOutcome = { action: 'fail', result: { id: task.id, status, retryAt: retryAt?.toISOString() ?? null } };
      await applyFailure(tx, { taskId: task.id, status, error, outcome, availableAt: retryAt, now, worker: task.worker });
      emit(
        'oms.task.failed',
        task.request_id,
        {
          taskId: task.id,
          stepId: task.step_id,
          pool: task.pool,
          worker: task.worker ?? '',
          leaseId: task.lease_id ?? '',
          attempt: task.attempt,
          error,
          retryAt: outcome.result.retryAt ?? null,
        },
        actor.id,
      );
      if (status === 'dead') {
        emit('oms.task.dead', task.request_id, { taskId: task.id, stepId: task.step_id, pool: task.pool, attempts: task.attempt, error }, actor.id);
      } else {
        this.afterCommit.run(tx, () => this.signals.announceAt(task.pool, [task.tags], delayMs));
      }
      return outcome.result;
    });
  }

  /**
   * Back to the queue at once; the attempt is not counted. A manager may release any lease, with
   * its token or without (force-release, e.g. for a worker that vanished); everyone else needs the token.
   */
  async release(command: ReleaseTaskCommand, actor: Actor): Promise<TaskActionResult> {
    const leaseToken = command.leaseToken ?? null;
    if (leaseToken === null && !mayForceRelease(actor)) {
      throw new DomainError('VALIDATION_FAILED', 'leaseToken is required: only a manager may release a task without its lease token', [
        { path: 'leaseToken', message: 'leaseToken is required unless the caller is a manager' },
      ]);
    }
    if (!isUuid(command.taskId)) throw DomainError.notFound('Task', command.taskId);
    const outcome: EndedOutcome = { action: 'release', result: { id: command.taskId, status: 'queued' } };
    const holder = requiredLeaseHolder(actor);
    return this.outbox.transaction(async (tx, emit) => {
      const row = await releaseLease(tx, { taskId: command.taskId, leaseToken, now: this.clock.now(), outcome, holder });
      if (!row) return leaseToken === null ? refuseForceRelease(tx, command.taskId) : explainLeaseMiss(tx, command.taskId, leaseToken, 'release', holder);
      emit(
        'oms.task.requeued',
        row.request_id,
        { taskId: row.id, stepId: row.step_id, pool: row.pool, leaseId: row.lease_id, attempt: row.attempt, reason: 'released' },
        actor.id,
      );
      this.afterCommit.run(tx, () => this.signals.announce(row.pool, [row.tags]));
      return outcome.result;
    });
  }
}

function toLeasedTask(row: AcquiredLeaseRow): LeasedTask {
  return {
    id: row.id,
    requestId: row.request_id,
    stepId: row.step_id,
    title: row.title,
    pool: row.pool,
    tags: row.tags,
    payload: row.payload,
    input: row.input,
    attempt: row.attempt,
    leaseToken: row.lease_token,
    leaseExpiresAt: row.lease_expires_at.toISOString(),
    leaseSeconds: row.lease_seconds,
  };
}
