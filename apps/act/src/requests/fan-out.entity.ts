import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { RequestStepEntity } from './request-step.entity';

/**
 * A started fan-out (a `forEach` step): its list, how many items were emitted as tasks so far
 * (the emitter works through it in chunks while `emitting`), and how many ended. The SQL is
 * hand-written (fan-out.repository.ts); this class is the schema's definition.
 */
@Entity({ name: 'fan_outs', schema: 'act' })
@Index('fan_outs_emitting_idx', ['requestId'], { where: '"emitting"' })
export class FanOutEntity {
  @PrimaryColumn('uuid', { primaryKeyConstraintName: 'fan_outs_pkey' })
  requestId: string;

  @PrimaryColumn('text', { primaryKeyConstraintName: 'fan_outs_pkey' })
  stepId: string;

  @ManyToOne(() => RequestStepEntity, { onDelete: 'CASCADE' })
  @JoinColumn([
    { name: 'request_id', referencedColumnName: 'requestId', foreignKeyConstraintName: 'fan_outs_request_step_fkey' },
    { name: 'step_id', referencedColumnName: 'stepId' },
  ])
  step?: RequestStepEntity;

  /** The `forEach` list as evaluated when the step started. */
  @Column('jsonb')
  items: unknown[];

  @Column('integer')
  total: number;

  /** Items emitted as `act.step.ready` so far. */
  @Column('integer')
  emitted: number;

  @Column('integer')
  completed: number;

  @Column('integer')
  failed: number;

  /** Items are still to be emitted (and the step still wants them). */
  @Column('boolean')
  emitting: boolean;
}

/** One item of a fan-out that ended: completed with its output, or dead. */
@Entity({ name: 'fan_out_items', schema: 'act' })
@Check('fan_out_items_status_check', `"status" IN ('completed', 'dead')`)
export class FanOutItemEntity {
  @PrimaryColumn('uuid', { primaryKeyConstraintName: 'fan_out_items_pkey' })
  requestId: string;

  @PrimaryColumn('text', { primaryKeyConstraintName: 'fan_out_items_pkey' })
  stepId: string;

  @PrimaryColumn('integer', { primaryKeyConstraintName: 'fan_out_items_pkey' })
  index: number;

  @ManyToOne(() => FanOutEntity, { onDelete: 'CASCADE' })
  @JoinColumn([
    { name: 'request_id', referencedColumnName: 'requestId', foreignKeyConstraintName: 'fan_out_items_fan_out_fkey' },
    { name: 'step_id', referencedColumnName: 'stepId' },
  ])
  fanOut?: FanOutEntity;

  @Column('text')
  status: 'completed' | 'dead';

  @Column('jsonb', { nullable: true })
  output: Record<string, unknown> | null;
}
