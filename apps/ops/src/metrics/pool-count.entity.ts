import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * Each pool's queued and leased tasks, kept exact by statement triggers on `pool_tasks`
 * (migration 1795280000000-PoolCounts), so the snapshot reads a row per pool, not every open task.
 */
@Entity({ name: 'pool_counts', schema: 'ops' })
export class PoolCountEntity {
  @PrimaryColumn('text', { primaryKeyConstraintName: 'pool_counts_pkey' })
  pool: string;

  @Column('bigint', { default: 0 })
  queued: string;

  @Column('bigint', { default: 0 })
  leased: string;
}
