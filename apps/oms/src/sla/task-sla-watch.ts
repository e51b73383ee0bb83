import { Inject, Injectable } from '@nestjs/common';
import { systemActor } from '@hms/contracts';
import { CLOCK, EventOutbox, PeriodicJob, type BackgroundJob, type Clock } from '@hms/platform';
import type { Logger } from 'pino';
import { queryRows } from '../database/query-rows';
import type { OmsConfig } from '../oms.config';

const SYSTEM = systemActor('oms').id;

/** At most this many breaches are announced per statement; the job loops while batches are full. */
export const SLA_WATCH_BATCH = 500;

interface BreachedRow {
  id: string;
  request_id: string;
  step_id: string;
  pool: string;
  status: 'queued' | 'leased';
  worker: string | null;
  sla_due_at: Date;
}

/*
 * Marks open tasks past their deadline as announced and returns them, oldest deadline first.
 *
 * Index: `tasks_sla_watch_idx` (sla_due_at) WHERE open, unannounced, with a deadline. Its
 * predicate is repeated here word for word so the planner can use it; the statement reads the
 * due entries from the front of the index and stops, and a marked task leaves the index.
 *
 * Locking: SKIP LOCKED, so replicas split the work and a task being leased or completed right
 * now is looked at again next tick (when it may be closed and no longer a breach). Marking and
 * the outbox row are in one transaction: each task is announced exactly once.
 */
const ANNOUNCE_BREACHES_SQL = `
WITH due AS MATERIALIZED (
  SELECT id FROM oms.tasks
  WHERE status IN ('queued', 'leased') AND sla_breached_at IS NULL AND sla_due_at IS NOT NULL
    AND sla_due_at <= $1::timestamptz
  ORDER BY sla_due_at
  LIMIT $2
  FOR UPDATE SKIP LOCKED
)
UPDATE oms.tasks AS t SET sla_breached_at = $1::timestamptz
FROM due WHERE t.id = due.id
RETURNING t.id, t.request_id, t.step_id, t.pool, t.status, CASE WHEN t.status = 'leased' THEN t.worker END AS worker, t.sla_due_at`;

/** Announces each open task that passed its `slaDueAt` with one `oms.task.sla-breached` event. */
@Injectable()
export class TaskSlaWatch {
  constructor(
    private readonly outbox: EventOutbox,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** One batch; true when it was full (more may be due). */
  announceBreaches(): Promise<{ full: boolean }> {
    return this.outbox.transaction(async (tx, emit) => {
      const rows = await queryRows<BreachedRow>(tx, ANNOUNCE_BREACHES_SQL, [this.clock.now(), SLA_WATCH_BATCH]);
      for (const row of rows) {
        emit(
          'oms.task.sla-breached',
          row.request_id,
          { taskId: row.id, stepId: row.step_id, pool: row.pool, slaDueAt: row.sla_due_at.toISOString(), status: row.status, worker: row.worker },
          SYSTEM,
        );
      }
      return { full: rows.length >= SLA_WATCH_BATCH };
    });
  }
}

/** Every OMS_SLA_SWEEP_MS, on every replica (SKIP LOCKED shares the work). */
export function taskSlaWatchJob(watch: TaskSlaWatch, config: OmsConfig, logger: Logger): BackgroundJob {
  return new PeriodicJob('task-sla-watch', config.OMS_SLA_SWEEP_MS, () => watch.announceBreaches(), logger);
}
