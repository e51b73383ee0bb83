import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * OPS's own view of every open task (queued or leased), kept from OMS events so queue depth and
 * the oldest wait are one indexed query away, without reading OMS's schema. A task that ended
 * stays a while as `closed` (a tombstone: see PoolTaskTombstones).
 */
@Entity({ name: 'pool_tasks', schema: 'ops' })
@Index('pool_tasks_pool_status_idx', ['pool', 'status', 'queuedAt'])
@Index('pool_tasks_closed_idx', ['lastEventAt'], { where: `"status" = 'closed'` })
export class PoolTaskEntity {
  @PrimaryColumn('uuid', { primaryKeyConstraintName: 'pool_tasks_pkey' })
  taskId: string;

  @Column('text')
  pool: string;

  /** 'queued' | 'leased' | 'closed'. */
  @Column('text')
  status: string;

  @Column('timestamptz')
  queuedAt: Date;

  @Column('text', { nullable: true })
  worker: string | null;

  /** Time of the newest event applied, so a late, older event cannot undo a newer one. */
  @Column('timestamptz')
  lastEventAt: Date;
}
