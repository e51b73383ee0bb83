import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * One lease granted or ended (leased with its wait, completed, failed attempt, dead), for rates
 * and wait percentiles. Keyed by the event that added it: the row is that event's claim.
 */
@Entity({ name: 'task_outcomes', schema: 'ops' })
@Index('task_outcomes_pool_at_idx', ['pool', 'at'])
export class TaskOutcomeEntity {
  @PrimaryColumn('uuid', { primaryKeyConstraintName: 'task_outcomes_pkey' })
  eventId: string;

  @Column('text')
  pool: string;

  /** 'leased' (with waitSeconds) | 'completed' | 'failed' | 'dead'. */
  @Column('text')
  outcome: string;

  @Column('timestamptz')
  at: Date;

  @Column('double precision', { nullable: true })
  waitSeconds: number | null;

  @Column('text', { nullable: true })
  worker: string | null;
}
