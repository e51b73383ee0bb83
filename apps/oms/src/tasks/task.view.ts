import type { QueuedTaskView, TaskStatus, TaskView } from '@hms/contracts';

/** The columns a task is shown with (never the lease token). */
export const TASK_VIEW_COLUMNS = `id, request_id, step_id, pool, title, tags, priority, status, attempt, max_attempts, payload, input, output,
  last_error, worker, lease_expires_at, sla_due_at, available_at, queued_at, created_at, updated_at`;

/** A row of `oms.tasks` as selected with {@link TASK_VIEW_COLUMNS}. */
export interface TaskViewRow {
  id: string;
  request_id: string;
  step_id: string;
  pool: string;
  title: string;
  tags: string[];
  priority: number;
  status: TaskStatus;
  attempt: number;
  max_attempts: number;
  payload: Record<string, unknown>;
  input: Record<string, unknown>;
  output: Record<string, unknown> | null;
  last_error: { message: string; code?: string } | null;
  worker: string | null;
  lease_expires_at: Date | null;
  sla_due_at: Date | null;
  available_at: Date;
  queued_at: Date;
  created_at: Date;
  updated_at: Date;
}

const iso = (value: Date | null): string | null => (value ? value.toISOString() : null);

export function toTaskView(row: TaskViewRow): TaskView {
  return {
    id: row.id,
    requestId: row.request_id,
    stepId: row.step_id,
    pool: row.pool,
    title: row.title,
    tags: row.tags,
    priority: row.priority,
    status: row.status,
    attempt: row.attempt,
    maxAttempts: row.max_attempts,
    payload: row.payload,
    input: row.input,
    output: row.output,
    lastError: row.last_error,
    worker: row.worker,
    leaseExpiresAt: iso(row.lease_expires_at),
    slaDueAt: iso(row.sla_due_at),
    availableAt: row.available_at.toISOString(),
    queuedAt: row.queued_at.toISOString(),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

export function toQueuedTaskView(row: TaskViewRow): QueuedTaskView {
  return {
    id: row.id,
    requestId: row.request_id,
    stepId: row.step_id,
    title: row.title,
    status: row.status,
    priority: row.priority,
    slaDueAt: iso(row.sla_due_at),
    queuedAt: row.queued_at.toISOString(),
  };
}
