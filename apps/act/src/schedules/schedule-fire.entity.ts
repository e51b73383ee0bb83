import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * One fire time of a plan's schedule that has been run. The primary key (plan, fire_at) is what
 * makes a fire time run exactly once across replicas: the row and its request commit together, and
 * a second replica's insert of the same key waits for the first and then conflicts. It also serves
 * "last fire of a plan" (max(fire_at) WHERE plan = $1, a backward index scan).
 */
@Entity({ name: 'schedule_fires', schema: 'act' })
export class ScheduleFireEntity {
  @PrimaryColumn('text', { primaryKeyConstraintName: 'schedule_fires_pkey' })
  plan: string;

  @PrimaryColumn('timestamptz', { name: 'fire_at', primaryKeyConstraintName: 'schedule_fires_pkey' })
  fireAt: Date;

  /** The request created for this fire time (inserted before it in the same transaction, so no foreign key). */
  @Column('uuid', { name: 'request_id' })
  requestId: string;

  @Column('timestamptz', { name: 'created_at' })
  createdAt: Date;
}
