import { Check, Column, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import type { StepStatus } from '@hms/contracts';
import { RequestEntity } from './request.entity';

/** The state of one step of one request. */
@Entity({ name: 'request_steps', schema: 'act' })
@Check('request_steps_status_check', `"status" IN ('pending', 'ready', 'done', 'skipped', 'failed', 'cancelled')`)
export class RequestStepEntity {
  @PrimaryColumn('uuid', { primaryKeyConstraintName: 'request_steps_pkey' })
  requestId: string;

  @PrimaryColumn('text', { primaryKeyConstraintName: 'request_steps_pkey' })
  stepId: string;

  @ManyToOne(() => RequestEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'request_id', foreignKeyConstraintName: 'request_steps_request_id_fkey' })
  request?: RequestEntity;

  /** The step's index in the plan, so a request lists its steps in the author's order. */
  @Column('integer')
  position: number;

  @Column('text')
  status: StepStatus;

  @Column('text')
  pool: string;

  /** Set when OMS reports the task queued. */
  @Column('text', { nullable: true })
  taskId: string | null;

  @Column('integer')
  attempts: number;

  /** The task's output; a fan-out's: its items' outputs in order (see Workflow), or their summary. */
  @Column('jsonb', { nullable: true })
  output: unknown;

  /** A finished fan-out's dead items (indexes, ascending); null for other steps. */
  @Column('integer', { array: true, nullable: true })
  failedItems: number[] | null;

  @Column('timestamptz')
  updatedAt: Date;
}
