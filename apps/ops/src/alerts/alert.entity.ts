import { Column, Entity, Index, PrimaryColumn, Unique } from 'typeorm';

/**
 * One alert: a task or request past its SLA, or a dead task. Unique per kind and subject (the
 * task's or request's id), so the condition seen again raises nothing new. The escalation and
 * webhook columns drive the two sweeps of alert-escalation.ts.
 */
@Entity({ name: 'alerts', schema: 'ops' })
@Unique('alerts_kind_subject_key', ['kind', 'subjectId'])
@Index('alerts_raised_idx', ['raisedAt', 'id'])
@Index('alerts_status_raised_idx', ['status', 'raisedAt', 'id'])
@Index('alerts_open_task_idx', ['taskId'], { where: `"status" <> 'resolved'` })
@Index('alerts_open_request_idx', ['requestId'], { where: `"status" <> 'resolved'` })
@Index('alerts_escalation_due_idx', ['escalationDueAt'], { where: `"status" = 'open' AND "escalated_at" IS NULL AND "escalation_due_at" IS NOT NULL` })
@Index('alerts_webhook_due_idx', ['webhookNextAt'], { where: `"webhook_status" = 'pending'` })
export class AlertEntity {
  @PrimaryColumn('uuid', { primaryKeyConstraintName: 'alerts_pkey' })
  id: string;

  /** AlertKind. */
  @Column('text')
  kind: string;

  /** The task's id for a task's alert, the request's for a request's. */
  @Column('uuid')
  subjectId: string;

  /** AlertStatus. */
  @Column('text')
  status: string;

  @Column('text', { nullable: true })
  pool: string | null;

  @Column('uuid', { nullable: true })
  requestId: string | null;

  @Column('uuid', { nullable: true })
  taskId: string | null;

  @Column('text', { nullable: true })
  stepId: string | null;

  @Column('text')
  message: string;

  @Column('timestamptz')
  raisedAt: Date;

  /** When the pool's escalation is due; null when there is none to run (a request's alert). */
  @Column('timestamptz', { nullable: true })
  escalationDueAt: Date | null;

  @Column('timestamptz', { nullable: true })
  escalatedAt: Date | null;

  @Column('text', { nullable: true })
  escalationPool: string | null;

  @Column('text', { nullable: true })
  webhookUrl: string | null;

  /** WebhookDeliveryStatus, null without a webhook. */
  @Column('text', { nullable: true })
  webhookStatus: string | null;

  @Column('integer', { default: 0 })
  webhookAttempts: number;

  /** The next delivery attempt; while one is in flight, when it is given up for lost. */
  @Column('timestamptz', { nullable: true })
  webhookNextAt: Date | null;

  @Column('timestamptz', { nullable: true })
  webhookDeliveredAt: Date | null;

  @Column('text', { nullable: true })
  webhookLastError: string | null;

  @Column('timestamptz', { nullable: true })
  acknowledgedAt: Date | null;

  @Column('text', { nullable: true })
  acknowledgedBy: string | null;

  @Column('timestamptz', { nullable: true })
  resolvedAt: Date | null;

  @Column('text', { nullable: true })
  resolvedBy: string | null;

  @Column('text', { nullable: true })
  resolution: string | null;
}
