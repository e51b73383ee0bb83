import { Check, Column, Entity, PrimaryColumn } from 'typeorm';
import type { AutoscalePolicy, EscalationPolicy, PoolKind } from '@hms/contracts';

/** A lane: the queue settings that tasks inherit when they are queued. */
@Entity({ name: 'pools' })
@Check('pools_kind_check', `"kind" IN ('human', 'bot')`)
@Check('pools_lease_seconds_check', `"lease_seconds" > 0`)
@Check('pools_max_attempts_check', `"max_attempts" > 0`)
@Check('pools_max_lease_seconds_check', `"max_lease_seconds" > 0`)
@Check('pools_worker_liveness_seconds_check', `"worker_liveness_seconds" BETWEEN 10 AND 86400`)
export class PoolEntity {
  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'pools_pkey' })
  name: string;

  @Column('text')
  kind: PoolKind;

  @Column('integer')
  leaseSeconds: number;

  /** Null: DEFAULT_MAX_LEASE_SECONDS. See lease-cap.sql.ts. */
  @Column('integer', { nullable: true })
  maxLeaseSeconds: number | null;

  @Column('double precision', { nullable: true })
  slaMinutes: number | null;

  @Column('integer')
  maxAttempts: number;

  @Column('jsonb', { nullable: true })
  autoscale: AutoscalePolicy | null;

  @Column('jsonb', { nullable: true })
  escalation: EscalationPolicy | null;

  /** Null: the service default (OMS_WORKER_LIVENESS_SECONDS), so the pool follows it when it changes. */
  @Column('integer', { nullable: true })
  workerLivenessSeconds: number | null;

  @Column({ type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @Column({ type: 'timestamptz', precision: 3 })
  updatedAt: Date;
}
