import { IsIn, IsOptional, IsUUID } from 'class-validator';
import { FixedLimits, IsText } from './limits';
import { PageQuery } from './pagination';

/**
 * What raised an alert: a task past its `slaDueAt`, a request past its `slaDueAt`, a task
 * whose attempts are spent, or an event a consumer gave up on and parked. One alert per kind and
 * subject (task, request or parked event), however often the condition is seen.
 */
export const AlertKinds = ['task-sla-breached', 'request-sla-breached', 'task-dead', 'event-parked'] as const;
export type AlertKind = (typeof AlertKinds)[number];

/** `open → acknowledged → resolved`, or `open → resolved`; resolved is final. */
export const AlertStatuses = ['open', 'acknowledged', 'resolved'] as const;
export type AlertStatus = (typeof AlertStatuses)[number];

/** Delivery of an alert to its pool's escalation webhook (retried with backoff). */
export const WebhookDeliveryStatuses = ['pending', 'delivered', 'failed'] as const;
export type WebhookDeliveryStatus = (typeof WebhookDeliveryStatuses)[number];

/** The escalation an alert ran: its pool's policy as it was when the alert became due. */
export interface AlertEscalationView {
  at: string;
  /** The pool that received an escalation task, or null. */
  pool: string | null;
  webhook: {
    url: string;
    status: WebhookDeliveryStatus;
    attempts: number;
    deliveredAt: string | null;
    lastError: string | null;
  } | null;
}

/** An alert as OPS keeps it (API.md `GET /v1/alerts`). */
export interface AlertView {
  id: string;
  kind: AlertKind;
  status: AlertStatus;
  /** The pool of the task (null for a request's alert). */
  pool: string | null;
  requestId: string | null;
  taskId: string | null;
  stepId: string | null;
  message: string;
  raisedAt: string;
  /** When the pool's escalation runs if nobody acknowledged the alert first (`afterMinutes`). */
  escalationDueAt: string | null;
  escalation: AlertEscalationView | null;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
  resolvedAt: string | null;
  resolvedBy: string | null;
  resolution: string | null;
}

export class ListAlertsQuery extends PageQuery {
  @IsOptional()
  @IsIn(AlertStatuses)
  status?: AlertStatus;

  @IsOptional()
  @IsText(FixedLimits.idLength)
  pool?: string;

  @IsOptional()
  @IsUUID()
  requestId?: string;
}

export class AcknowledgeAlertCommand {
  @IsText(FixedLimits.idLength)
  id: string;
}

export class ResolveAlertCommand {
  @IsText(FixedLimits.idLength)
  id: string;

  @IsOptional()
  @IsText(1000, { minLength: 0 })
  reason?: string;
}

/**
 * The step id of the task an escalation queues in the escalation pool: it belongs to the request
 * of the alert (so its events are in that request's history) but to no step of its plan.
 */
export const EscalationSteps = {
  prefix: 'escalation:',
  stepIdOf: (alertId: string): string => `escalation:${alertId}`,
  /** The alert an escalation task was queued for, or null for a plan's own step. */
  alertIdOf: (stepId: string): string | null => (stepId.startsWith('escalation:') ? stepId.slice('escalation:'.length) : null),
} as const;
