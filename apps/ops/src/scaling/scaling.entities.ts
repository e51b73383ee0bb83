import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * Where each autoscaled pool stands: the replicas last decided, since when (the cooldown's
 * start) and what the last evaluation found. One row per pool with an autoscale policy; the row
 * goes when the policy does, so the snapshot's `desiredReplicas` is null again.
 */
@Entity({ name: 'pool_scaling', schema: 'ops' })
export class PoolScalingEntity {
  @PrimaryColumn('text', { primaryKeyConstraintName: 'pool_scaling_pkey' })
  pool: string;

  @Column('integer')
  desired: number;

  @Column('timestamptz')
  desiredSince: Date;

  /** The Deployment's replicas as last read (after a successful apply: `desired`); null without a target. */
  @Column('integer', { nullable: true })
  current: number | null;

  /** The cooldown held the policy's answer back. */
  @Column('boolean')
  held: boolean;

  /** Why the last apply failed, if it did. */
  @Column('text', { nullable: true })
  error: string | null;

  @Column('timestamptz')
  evaluatedAt: Date;
}

/** The decisions whose outcome differed from the pool's previous one, newest first in the API. */
@Entity({ name: 'scaling_decisions', schema: 'ops' })
@Index('scaling_decisions_at_idx', ['at', 'id'])
@Index('scaling_decisions_pool_at_idx', ['pool', 'at', 'id'])
export class ScalingDecisionEntity {
  @PrimaryColumn('uuid', { primaryKeyConstraintName: 'scaling_decisions_pkey' })
  id: string;

  @Column('text')
  pool: string;

  @Column('timestamptz')
  at: Date;

  @Column('integer')
  queued: number;

  @Column('integer', { nullable: true })
  current: number | null;

  @Column('integer')
  desired: number;

  @Column('text')
  reason: string;

  @Column('boolean')
  applied: boolean;
}
