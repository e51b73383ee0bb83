import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, PeriodicJob, type BackgroundJob, type Clock } from '@hms/platform';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';

/**
 * How long an ended task stays in `pool_tasks` as `closed`: far longer than an earlier event of it
 * can still be on its way to the other replica (a batch in flight, a redelivery after ack_wait or
 * a nak's delay, both at most 30 s). An event that came later still would reopen the task.
 */
export const TOMBSTONE_SECONDS = 10 * 60;
const TOMBSTONE_SWEEP_MS = 60_000;
const TOMBSTONE_DELETE_CHUNK = 5000;

/** Deletes the tombstones of tasks that ended more than TOMBSTONE_SECONDS ago, oldest first, a chunk at a time. */
@Injectable()
export class PoolTaskTombstones {
  constructor(
    private readonly dataSource: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async sweep(): Promise<number> {
    const cutoff = new Date(this.clock.now().getTime() - TOMBSTONE_SECONDS * 1000);
    const [{ deleted }] = (await this.dataSource.query(
      `WITH gone AS (
         DELETE FROM "ops"."pool_tasks"
         WHERE ctid = ANY(ARRAY(SELECT ctid FROM "ops"."pool_tasks" WHERE "status" = 'closed' AND "last_event_at" < $1 ORDER BY "last_event_at" LIMIT $2))
           AND "status" = 'closed'
         RETURNING 1
       )
       SELECT count(*)::int AS "deleted" FROM gone`,
      [cutoff, TOMBSTONE_DELETE_CHUNK],
    )) as Array<{ deleted: number }>;
    return deleted;
  }
}

/** Every minute on every replica (two deleting the same rows is harmless), and at once again while chunks come back full. */
export function poolTaskTombstonesJob(tombstones: PoolTaskTombstones, logger: Logger): BackgroundJob {
  return new PeriodicJob('pool task tombstones', TOMBSTONE_SWEEP_MS, async () => ({ full: (await tombstones.sweep()) === TOMBSTONE_DELETE_CHUNK }), logger);
}
