import { EventStream } from '@hms/contracts';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import { PeriodicJob } from '../bootstrap/periodic-job';
import type { BackgroundJob } from '../bootstrap/service-runtime';

/**
 * How long a consumer remembers an event it handled: the stream's max age, plus a day. Only an
 * event still in the stream can be delivered again, so a row older than that guards against
 * nothing. The day covers clock skew and a relay publishing a backlog late.
 */
export const PROCESSED_EVENTS_RETENTION_SECONDS = EventStream.maxAgeSeconds + 24 * 3600;

/** Rows deleted per statement, so a large backlog never becomes one long transaction. */
export const PROCESSED_EVENTS_DELETE_CHUNK = 5000;

/** How often a retention sweep runs (and at once again while it deletes full chunks). */
export const RETENTION_SWEEP_INTERVAL_MS = 10 * 60 * 1000;

/**
 * Deletes the `processed_events` rows past {@link PROCESSED_EVENTS_RETENTION_SECONDS}, a chunk
 * at a time (every ten minutes, and at once again while chunks come back full). Replicas each
 * run it; SKIP LOCKED lets them share a backlog instead of queueing on the same rows.
 */
export class ProcessedEventsRetention implements BackgroundJob {
  private readonly job: PeriodicJob;

  constructor(
    private readonly dataSource: DataSource,
    private readonly schema: string,
    private readonly now: () => Date,
    logger: Logger,
  ) {
    this.job = new PeriodicJob('processed-events retention', RETENTION_SWEEP_INTERVAL_MS, async () => ({ full: (await this.sweep()) === PROCESSED_EVENTS_DELETE_CHUNK }), logger);
  }

  start(): void {
    this.job.start();
  }

  stop(): Promise<void> {
    return this.job.stop();
  }

  /** Deletes one chunk of expired rows; returns how many went. */
  async sweep(): Promise<number> {
    const cutoff = new Date(this.now().getTime() - PROCESSED_EVENTS_RETENTION_SECONDS * 1000);
    const [{ deleted }] = (await this.dataSource.query(
      `WITH gone AS (
         DELETE FROM "${this.schema}"."processed_events" WHERE ctid = ANY(ARRAY(
           SELECT ctid FROM "${this.schema}"."processed_events" WHERE "processed_at" < $1
           ORDER BY "processed_at" LIMIT $2 FOR UPDATE SKIP LOCKED
         )) RETURNING 1
       )
       SELECT count(*)::int AS deleted FROM gone`,
      [cutoff, PROCESSED_EVENTS_DELETE_CHUNK],
    )) as Array<{ deleted: number }>;
    return deleted;
  }
}
