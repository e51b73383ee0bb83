import type { AlertKind, AlertStatus, AlertView, WebhookDeliveryStatus } from '@hms/contracts';

/** An `ops.alerts` row as raw SQL returns it. */
export interface AlertRow {
  id: string;
  kind: AlertKind;
  status: AlertStatus;
  pool: string | null;
  request_id: string | null;
  task_id: string | null;
  step_id: string | null;
  message: string;
  raised_at: Date;
  escalation_due_at: Date | null;
  escalated_at: Date | null;
  escalation_pool: string | null;
  webhook_url: string | null;
  webhook_status: WebhookDeliveryStatus | null;
  webhook_attempts: number;
  webhook_next_at: Date | null;
  webhook_delivered_at: Date | null;
  webhook_last_error: string | null;
  acknowledged_at: Date | null;
  acknowledged_by: string | null;
  resolved_at: Date | null;
  resolved_by: string | null;
  resolution: string | null;
}

const iso = (value: Date | null) => (value ? value.toISOString() : null);

export function toAlertView(row: AlertRow): AlertView {
  return {
    id: row.id,
    kind: row.kind,
    status: row.status,
    pool: row.pool,
    requestId: row.request_id,
    taskId: row.task_id,
    stepId: row.step_id,
    message: row.message,
    raisedAt: row.raised_at.toISOString(),
    // Once it ran (or can no longer run) the due time says nothing more.
    escalationDueAt: row.escalated_at || row.status !== 'open' ? null : iso(row.escalation_due_at),
    escalation: row.escalated_at
      ? {
          at: row.escalated_at.toISOString(),
          pool: row.escalation_pool,
          webhook: row.webhook_url
            ? {
                url: row.webhook_url,
                status: row.webhook_status ?? 'pending',
                attempts: row.webhook_attempts,
                deliveredAt: iso(row.webhook_delivered_at),
                lastError: row.webhook_last_error,
              }
            : null,
        }
      : null,
    acknowledgedAt: iso(row.acknowledged_at),
    acknowledgedBy: row.acknowledged_by,
    resolvedAt: iso(row.resolved_at),
    resolvedBy: row.resolved_by,
    resolution: row.resolution,
  };
}
