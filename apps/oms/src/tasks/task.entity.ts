import { Check, Column, Entity, Index, PrimaryColumn, Unique } from 'typeorm';
import type { TaskStatus } from '@hms/contracts';
import type { EffectiveRetryPolicy } from '../leases/backoff';

/**
 * One step of one request, queued in a pool. The SQL of the lease path is hand-written
 * (leases/*.sql.ts); this class is the schema's definition, checked against the migrations.
 *
 * Index notes (the migration holds the exact DDL, with the DESC and the partial predicates):
 * - `tasks_lease_idx` (pool, priority DESC, pick_by, available_at, id) WHERE queued: the lease
 *   query walks it in order and stops after `max` rows, so leasing costs the same with 10 or 10^6
 *   tasks queued.
 * - `tasks_sla_watch_idx` (sla_due_at) WHERE open, not yet announced and with a deadline: the SLA
 *   watch reads the due ones from the front and never scans the table.
 * - `tasks_lease_expiry_idx` (lease_expires_at) WHERE leased: the expiry sweep.
 * - `tasks_worker_leased_idx` (worker) WHERE leased: worker liveness (leases of gone workers).
 * - `tasks_request_step_key` doubles as the by-request index (request_id leads), so there is no
 *   separate request_id index to maintain.
 * - `tasks_created_idx`, `tasks_pool_created_idx`, `tasks_worker_created_idx`: the list
 *   filters, newest first, keyset-paginated on (created_at, id).
 */
@Entity({ name: 'tasks' })
@Unique('tasks_request_step_key', ['requestId', 'stepId'])
@Index('tasks_lease_idx', ['pool', 'priority', 'pickBy', 'availableAt', 'id'], { where: `"status" = 'queued'` })
@Index('tasks_sla_watch_idx', ['slaDueAt'], {
  where: `"status" IN ('queued', 'leased') AND "sla_breached_at" IS NULL AND "sla_due_at" IS NOT NULL`,
})
@Index('tasks_lease_expiry_idx', ['leaseExpiresAt'], { where: `"status" = 'leased'` })
@Index('tasks_worker_leased_idx', ['worker'], { where: `"status" = 'leased'` })
@Index('tasks_created_idx', ['createdAt', 'id'])
@Index('tasks_pool_created_idx', ['pool', 'createdAt', 'id'])
@Index('tasks_worker_created_idx', ['worker', 'createdAt', 'id'], { where: `"worker" IS NOT NULL` })
@Check('tasks_status_check', `"status" IN ('queued', 'leased', 'completed', 'dead', 'cancelled')`)
@Check('tasks_attempt_check', `"attempt" >= 0 AND "max_attempts" > 0`)
@Check('tasks_lease_check', `("status" = 'leased') = ("lease_token" IS NOT NULL AND "lease_expires_at" IS NOT NULL)`)
export class TaskEntity {
  @PrimaryColumn({ type: 'uuid', primaryKeyConstraintName: 'tasks_pkey' })
  id: string;

  @Column('text')
  requestId: string;

  @Column('text')
  stepId: string;

  @Column('text')
  pool: string;

  @Column('text')
  title: string;

  @Column('text', { array: true })
  tags: string[];

  @Column('integer')
  priority: number;

  @Column('text')
  status: TaskStatus;

  /** Attempts started so far (a lease starts one; a release takes it back). */
  @Column('integer')
  attempt: number;

  @Column('integer')
  maxAttempts: number;

  @Column('jsonb')
  retry: EffectiveRetryPolicy;

  @Column('jsonb')
  payload: Record<string, unknown>;

  /** What the step gives the task to work on (see the plan's `input:`). */
  @Column('jsonb', { default: () => "'{}'" })
  input: Record<string, unknown>;

  /** `payload` and `input` serialized as JSON, in bytes, as they travel in a lease answer; null on tasks older than the column. */
  @Column('integer', { nullable: true })
  payloadBytes: number | null;

  @Column('jsonb', { nullable: true })
  output: Record<string, unknown> | null;

  @Column('jsonb', { nullable: true })
  lastError: { message: string; code?: string } | null;

  /** The lease holder while leased; afterwards the last one (who completed or failed it). */
  @Column('text', { nullable: true })
  worker: string | null;

  /** Secret of the current lease; null unless leased. */
  @Column('text', { nullable: true })
  leaseToken: string | null;

  /** Public id of the current (or last) lease, carried by the events. */
  @Column('uuid', { nullable: true })
  leaseId: string | null;

  @Column({ type: 'timestamptz', precision: 3, nullable: true })
  leaseExpiresAt: Date | null;

  /** Length of the current lease, which a heartbeat without `extendSeconds` renews. */
  @Column('integer', { nullable: true })
  leaseDurationSeconds: number | null;

  /** Default lease length: the step's, else the pool's when the task was queued. */
  @Column('integer')
  leaseSeconds: number;

  /**
   * Token of the last lease ended by its holder (complete, fail, release) and the answer it got,
   * so that the same call repeated is told apart from a stale token and answered the same.
   */
  @Column('text', { nullable: true })
  endedLeaseToken: string | null;

  @Column('jsonb', { nullable: true })
  endedOutcome: EndedOutcome | null;

  @Column({ type: 'timestamptz', precision: 3, nullable: true })
  slaDueAt: Date | null;

  /**
   * Deadline pressure, the lease order's key after priority: `slaDueAt`, or for a task without
   * an SLA, its creation plus OMS_UNTIMED_TASK_DEADLINE_MINUTES.
   */
  @Column({ type: 'timestamptz', precision: 3 })
  pickBy: Date;

  /** When the SLA watch announced this task's breach; null until then (at most once per task). */
  @Column({ type: 'timestamptz', precision: 3, nullable: true })
  slaBreachedAt: Date | null;

  /** Not offered before this (retry backoff); equals `queuedAt` otherwise. */
  @Column({ type: 'timestamptz', precision: 3 })
  availableAt: Date;

  /** When the task last entered the queue. */
  @Column({ type: 'timestamptz', precision: 3 })
  queuedAt: Date;

  @Column({ type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @Column({ type: 'timestamptz', precision: 3 })
  updatedAt: Date;
}

/** What a holder's last lease-ending call did, and the answer it was given. */
export interface EndedOutcome {
  action: 'complete' | 'fail' | 'release';
  result: { id: string; status: TaskStatus; retryAt?: string | null };
}
