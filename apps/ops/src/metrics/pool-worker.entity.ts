import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A worker's presence in a pool as OMS last announced it; `hms_workers_online` counts the online ones. */
@Entity({ name: 'pool_workers', schema: 'ops' })
export class PoolWorkerEntity {
  @PrimaryColumn('text', { primaryKeyConstraintName: 'pool_workers_pkey' })
  pool: string;

  @PrimaryColumn('text', { primaryKeyConstraintName: 'pool_workers_pkey' })
  worker: string;

  @Column('boolean')
  online: boolean;

  /** Time of the newest event applied, so a late, older event cannot undo a newer one. */
  @Column('timestamptz')
  lastEventAt: Date;
}
