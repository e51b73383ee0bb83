import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A worker as last seen: any call naming it (lease, heartbeat, complete…) refreshes `lastSeenAt`. */
@Entity({ name: 'workers' })
export class WorkerEntity {
  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'workers_pkey' })
  id: string;

  @Column({ type: 'timestamptz', precision: 3 })
  firstSeenAt: Date;

  @Column({ type: 'timestamptz', precision: 3 })
  lastSeenAt: Date;
}

/** A worker online in a pool: from its first lease call there until it is declared gone. */
@Entity({ name: 'worker_pools' })
export class WorkerPoolEntity {
  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'worker_pools_pkey' })
  worker: string;

  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'worker_pools_pkey' })
  pool: string;

  @Column({ type: 'timestamptz', precision: 3 })
  joinedAt: Date;
}
