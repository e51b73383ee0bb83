import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** One finished lease or task (completed, failed attempt, dead), for rates and wait percentiles. */
@Entity({ name: 'task_outcomes', schema: 'ops' })
@Index('task_outcomes_pool_at_idx', ['pool', 'at'])
export class TaskOutcomeEntity {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', primaryKeyConstraintName: 'task_outcomes_pkey' })
  id: string;

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
