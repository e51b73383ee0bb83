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
