import { Check, Column, Entity, Index, PrimaryColumn, Unique } from 'typeorm';
import type { RequestEndDetails, RequestStatus } from '@hms/contracts';

/** One instance of a plan version. */
@Entity({ name: 'requests', schema: 'act' })
@Check('requests_status_check', `"status" IN ('running', 'completed', 'rejected', 'failed', 'cancelled')`)
@Unique('requests_created_by_idempotency_key_key', ['createdBy', 'idempotencyKey'])
// The list is newest first with a (created_at, id) cursor; one index per filter keeps each page an index scan.
@Index('requests_created_at_id_idx', ['createdAt', 'id'])
@Index('requests_plan_created_at_id_idx', ['plan', 'createdAt', 'id'])
@Index('requests_status_created_at_id_idx', ['status', 'createdAt', 'id'])
@Index('requests_reference_created_at_id_idx', ['reference', 'createdAt', 'id'])
// The SLA sweep: only running, not yet breached requests, oldest due first (see markSlaBreaches).
@Index('requests_sla_due_idx', ['slaDueAt'], { where: `"status" = 'running' AND "sla_breached_at" IS NULL` })
export class RequestEntity {
  @PrimaryColumn('uuid', { primaryKeyConstraintName: 'requests_pkey' })
  id: string;

  @Column('text')
  plan: string;

  @Column('integer')
  planVersion: number;

  @Column('text')
  status: RequestStatus;

  @Column('jsonb')
  payload: Record<string, unknown>;

  @Column('text', { nullable: true })
  reference: string | null;

  @Column('integer')
  priority: number;

  @Column('timestamptz', { nullable: true })
  slaDueAt: Date | null;

  /** When the SLA sweep found the request running past `slaDueAt`; set once, never cleared. */
  @Column('timestamptz', { nullable: true })
  slaBreachedAt: Date | null;

  /** From the `Idempotency-Key` header; unique per caller (`createdBy`), so a retried create finds the first request and two callers never collide. */
  @Column('text', { nullable: true })
  idempotencyKey: string | null;

  /** sha-256 of the create command, to tell a retry (same body) from a reused key (another body). */
  @Column('text', { nullable: true })
  requestHash: string | null;

  @Column('jsonb')
  escalations: Array<{ at: string; reason: string; alertId?: string }>;

  @Column('text')
  createdBy: string;

  @Column('timestamptz')
  createdAt: Date;

  @Column('timestamptz')
  updatedAt: Date;

  @Column('timestamptz', { nullable: true })
  completedAt: Date | null;

  /** The plan's `output` (or its last steps' outputs) once the request completed. */
  @Column('jsonb', { nullable: true })
  result: unknown;

  /** Why the request ended otherwise: a failure's or cancel's reason, the step that failed or rejected it. */
  @Column('jsonb', { nullable: true })
  endDetails: RequestEndDetails | null;
}
