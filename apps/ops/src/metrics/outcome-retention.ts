import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, PeriodicJob, PROCESSED_EVENTS_DELETE_CHUNK, PROCESSED_EVENTS_RETENTION_SECONDS, RETENTION_SWEEP_INTERVAL_MS, type BackgroundJob, type Clock } from '@hms/platform';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { OUTCOME_POOLS_CTE } from './outcome-pools.sql';

/*
 * Deletes at most $2 outcome rows older than $1, the oldest of each pool first, each pool's old
 * rows read as the start of its range of `task_outcomes_pool_at_idx` (OUTCOME_POOLS_CTE). No row
 * locks are taken before the delete: replicas sweeping together may pick the same rows, and the
 * second delete of one finds it gone.
 */
const DELETE_OLD_OUTCOMES_SQL = `
WITH RECURSIVE ${OUTCOME_POOLS_CTE},
old AS (
  SELECT o.ctid FROM outcome_pools AS p CROSS JOIN LATERAL (
    SELECT t.ctid FROM "ops"."task_outcomes" AS t WHERE t."pool" = p."pool" AND t."at" < $1 ORDER BY t."at" LIMIT $2
  ) AS o
  WHERE p."pool" IS NOT NULL
  LIMIT $2
),
gone AS (
  DELETE FROM "ops"."task_outcomes" WHERE ctid = ANY(ARRAY(SELECT ctid FROM old)) RETURNING 1
)
SELECT count(*)::int AS deleted FROM gone`;

/**
 * Keeps `task_outcomes` bounded. A row is also its event's claim, so it stays as long as a
 * `processed_events` row would (PROCESSED_EVENTS_RETENTION_SECONDS: the stream's max age plus a
 * day, since only an event still in the stream can arrive again), which is far longer than the
 * metric window it feeds (OPS_METRICS_WINDOW_MINUTES, a day at most).
 */
@Injectable()
export class OutcomeRetention {
  constructor(
    private readonly dataSource: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** Deletes one chunk of expired outcomes; returns how many went. */
  async sweep(): Promise<number> {
    const cutoff = new Date(this.clock.now().getTime() - PROCESSED_EVENTS_RETENTION_SECONDS * 1000);
    const [{ deleted }] = (await this.dataSource.query(DELETE_OLD_OUTCOMES_SQL, [cutoff, PROCESSED_EVENTS_DELETE_CHUNK])) as Array<{ deleted: number }>;
    return deleted;
  }
}

/** Every RETENTION_SWEEP_INTERVAL_MS on every replica, and at once again while chunks come back full. */
export function outcomeRetentionJob(retention: OutcomeRetention, logger: Logger): BackgroundJob {
  return new PeriodicJob('outcome retention', RETENTION_SWEEP_INTERVAL_MS, async () => ({ full: (await retention.sweep()) === PROCESSED_EVENTS_DELETE_CHUNK }), logger);
}
