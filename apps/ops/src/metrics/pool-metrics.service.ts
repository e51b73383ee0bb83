import { Inject, Injectable } from '@nestjs/common';
import type { AnyHmsEvent, PoolMetrics } from '@hms/contracts';
import { claimProcessedEventSql, CLOCK, preparedQuery, type Clock } from '@hms/platform';
import { DataSource, type EntityManager } from 'typeorm';
import { OpsConfig } from '../ops.config';
import { OUTCOME_POOLS_CTE } from './outcome-pools.sql';

interface PoolMetricsRow {
  pool: string;
  depth: string;
  leased: string;
  oldest_queued_at: Date | null;
  wait_p50: number | null;
  wait_p95: number | null;
  completed_recent: string;
  completed_window: string;
  dead_window: string;
  failed_window: string;
  workers_online: string;
  desired_replicas: number | null;
}

/** A task's state after the events of a batch: open (queued or leased) or closed. */
interface OpenTask {
  kind: 'open';
  pool: string;
  status: 'queued' | 'leased';
  /** When it was queued; null keeps the stored time (a lease, a reroute). */
  queuedAt: string | null;
  worker: string | null;
  at: string;
}
/** Completed, dead or cancelled: final, so it wins over any other event of the task, whatever their times. */
interface ClosedTask {
  kind: 'closed';
  pool: string;
  at: string;
}
type TaskChange = OpenTask | ClosedTask;

interface Outcome {
  eventId: string;
  pool: string;
  outcome: 'leased' | 'failed' | 'completed' | 'dead';
  at: string;
  waitSeconds: number | null;
  worker: string | null;
}

/** The durable consumer name OPS claims its other events under in `processed_events`. */
export const OPS_CONSUMER = 'ops';

/** The `task_outcomes` row an event adds: one per lease granted, failed or ended, none for the others. */
function outcomeOf(event: AnyHmsEvent): Outcome | null {
  const base = { eventId: event.id, at: event.at };
  switch (event.type) {
    case 'oms.task.leased':
      return { ...base, pool: event.data.pool, outcome: 'leased', waitSeconds: event.data.waitedMs / 1000, worker: event.data.worker };
    case 'oms.task.failed':
      return { ...base, pool: event.data.pool, outcome: 'failed', waitSeconds: null, worker: event.data.worker };
    case 'oms.task.completed':
      return { ...base, pool: event.data.pool, outcome: 'completed', waitSeconds: null, worker: event.data.worker };
    case 'oms.task.dead':
      return { ...base, pool: event.data.pool, outcome: 'dead', waitSeconds: null, worker: null };
    default:
      return null;
  }
}

/**
 * Keeps per-pool queue state from OMS events and answers the pool snapshot. Every event is
 * applied in the consumer's transaction, so a redelivered event changes nothing twice.
 */
@Injectable()
export class PoolMetricsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly config: OpsConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /**
   * Claims a batch (the subscription's `claim`) and records its outcomes, in one statement, and
   * returns the ids of the events seen for the first time. An event that adds an outcome row
   * (most of them: a lease and its end) is claimed by that row, keyed by the event id, so it
   * costs no `processed_events` row; the others take one. An outcome event claimed in
   * `processed_events` before outcome rows carried their event (an upgrade) still counts as seen.
   */
  async claim(events: AnyHmsEvent[], tx: EntityManager): Promise<Set<string>> {
    const outcomes = new Map<string, Outcome>();
    const others = new Set<string>();
    for (const event of events) {
      const outcome = outcomeOf(event);
      if (outcome) outcomes.set(event.id.toLowerCase(), outcome);
      else others.add(event.id.toLowerCase());
    }
    const rows = [...outcomes.values()];
    const fresh = await preparedQuery<{ event_id: string }>(
      tx,
      'ops_claim_events',
      `WITH outcome AS (
         INSERT INTO "ops"."task_outcomes" ("event_id", "pool", "outcome", "at", "wait_seconds", "worker")
         SELECT o.* FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::double precision[], $6::text[])
           AS o(event_id, pool, outcome, at, wait_seconds, worker)
         WHERE NOT EXISTS (SELECT 1 FROM "ops"."processed_events" AS p WHERE p."consumer" = $7 AND p."event_id" = o.event_id)
         ON CONFLICT ("event_id") DO NOTHING RETURNING "event_id"
       ),
       other AS (
         ${claimProcessedEventSql({ schema: 'ops', consumer: '$7::text', eventIds: 'unnest($8::uuid[])' })}
       )
       SELECT "event_id" FROM outcome UNION ALL SELECT "event_id" FROM other`,
      [
        rows.map((o) => o.eventId),
        rows.map((o) => o.pool),
        rows.map((o) => o.outcome),
        rows.map((o) => o.at),
        rows.map((o) => o.waitSeconds),
        rows.map((o) => o.worker),
        OPS_CONSUMER,
        [...others],
      ],
    );
    return new Set(fresh.map((row) => row.event_id));
  }

  /**
   * Applies the claimed events of a batch to the open tasks and workers with a fixed number of
   * statements, whatever its size: each task's events are folded into its final open state (or
   * its closing) first. Every write keeps the "newest event wins" guard on `last_event_at`, so a
   * late, older event cannot undo a newer one, in or across batches. (Their outcome rows were
   * written by {@link claim}.)
   */
  async applyAll(events: AnyHmsEvent[], tx: EntityManager): Promise<void> {
    const tasks = new Map<string, TaskChange>();
    const workers = new Map<string, { pool: string; worker: string; online: boolean; at: string }>();
    /** Folds a change into the task's state; like the stored guard, an older event changes nothing. */
    const isStale = (taskId: string, at: string) => {
      const previous = tasks.get(taskId);
      return previous !== undefined && Date.parse(previous.at) > Date.parse(at);
    };
    const close = (taskId: string, pool: string, at: string) => {
      tasks.set(taskId, { kind: 'closed', pool, at });
    };
    const open = (taskId: string, change: Omit<OpenTask, 'kind'>) => {
      const previous = tasks.get(taskId);
      if (previous?.kind === 'closed' || isStale(taskId, change.at)) return;
      // A reroute or lease keeps the queued time of a queueing earlier in the batch.
      const queuedAt = change.queuedAt ?? (previous?.kind === 'open' ? previous.queuedAt : null);
      tasks.set(taskId, { kind: 'open', ...change, queuedAt });
    };
    /** Pools whose counts the batch may change: their rows are locked first, in one order (see lockPoolCounts). */
    const pools = new Set<string>();
    for (const event of events) {
      const at = event.at;
      if (event.type.startsWith('oms.task.')) {
        const data = event.data as { pool?: string; fromPool?: string; toPool?: string };
        for (const pool of [data.pool, data.fromPool, data.toPool]) if (pool) pools.add(pool);
      }
      switch (event.type) {
        case 'oms.task.queued':
        case 'oms.task.requeued':
          open(event.data.taskId, { pool: event.data.pool, status: 'queued', queuedAt: at, worker: null, at });
          break;
        case 'oms.task.leased':
          open(event.data.taskId, { pool: event.data.pool, status: 'leased', queuedAt: null, worker: event.data.worker, at });
          break;
        case 'oms.task.failed':
          if (event.data.retryAt) open(event.data.taskId, { pool: event.data.pool, status: 'queued', queuedAt: event.data.retryAt, worker: null, at });
          break;
        case 'oms.task.completed':
        case 'oms.task.dead':
        case 'oms.task.cancelled':
          close(event.data.taskId, event.data.pool, at);
          break;
        case 'oms.task.rerouted':
          open(event.data.taskId, { pool: event.data.toPool, status: 'queued', queuedAt: null, worker: null, at });
          break;
        case 'oms.worker.online':
        case 'oms.worker.offline': {
          const key = `${event.data.pool}\u0000${event.data.worker}`;
          const previous = workers.get(key);
          if (previous && Date.parse(previous.at) > Date.parse(at)) break;
          workers.set(key, { pool: event.data.pool, worker: event.data.worker, online: event.type === 'oms.worker.online', at });
          break;
        }
        default:
          break;
      }
    }
    const opened = [...tasks].filter((entry): entry is [string, OpenTask] => entry[1].kind === 'open');
    const closed = [...tasks].filter((entry): entry is [string, ClosedTask] => entry[1].kind === 'closed');
    if (opened.length > 0 || closed.length > 0) await this.lockPoolCounts(tx, [...pools]);
    if (opened.length > 0) {
      // queued_at: a change without one (a lease, a reroute) keeps the stored time; c is looked
      // up again in the update because EXCLUDED only carries the value inserted.
      await preparedQuery(
        tx,
        'ops_pool_tasks_open',
        `WITH c AS (
           SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::timestamptz[]) AS c(task_id, pool, status, queued_at, worker, at)
         )
         INSERT INTO "ops"."pool_tasks" ("task_id", "pool", "status", "queued_at", "worker", "last_event_at")
         SELECT task_id, pool, status, COALESCE(queued_at, at), worker, at FROM c
         ON CONFLICT ("task_id") DO UPDATE SET
           "pool" = EXCLUDED."pool", "status" = EXCLUDED."status", "worker" = EXCLUDED."worker",
           "queued_at" = COALESCE((SELECT c.queued_at FROM c WHERE c.task_id = EXCLUDED."task_id"), "pool_tasks"."queued_at"),
           "last_event_at" = EXCLUDED."last_event_at"
         WHERE "pool_tasks"."status" <> 'closed' AND "pool_tasks"."last_event_at" <= EXCLUDED."last_event_at"`,
        [
          opened.map(([id]) => id),
          opened.map(([, c]) => c.pool),
          opened.map(([, c]) => c.status),
          opened.map(([, c]) => c.queuedAt),
          opened.map(([, c]) => c.worker),
          opened.map(([, c]) => c.at),
        ],
      );
    }
    if (closed.length > 0) {
      // A tombstone, not a delete: with two replicas an earlier event of the task (its lease) can
      // be applied after its end, in another batch, and must find the task closed, not absent.
      // PoolTaskTombstones deletes them once no such event can still come.
      await preparedQuery(
        tx,
        'ops_pool_tasks_close',
        `INSERT INTO "ops"."pool_tasks" ("task_id", "pool", "status", "queued_at", "worker", "last_event_at")
         SELECT task_id, pool, 'closed', at, NULL, at FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) AS c(task_id, pool, at)
         ON CONFLICT ("task_id") DO UPDATE SET "status" = 'closed', "worker" = NULL, "last_event_at" = GREATEST("pool_tasks"."last_event_at", EXCLUDED."last_event_at")
         WHERE "pool_tasks"."status" <> 'closed'`,
        [closed.map(([id]) => id), closed.map(([, c]) => c.pool), closed.map(([, c]) => c.at)],
      );
    }
    if (workers.size > 0) {
      const rows = [...workers.values()];
      await preparedQuery(
        tx,
        'ops_pool_workers_set',
        `INSERT INTO "ops"."pool_workers" ("pool", "worker", "online", "last_event_at")
         SELECT * FROM unnest($1::text[], $2::text[], $3::boolean[], $4::timestamptz[])
         ON CONFLICT ("pool", "worker") DO UPDATE SET "online" = EXCLUDED."online", "last_event_at" = EXCLUDED."last_event_at"
         WHERE "pool_workers"."last_event_at" <= EXCLUDED."last_event_at"`,
        [rows.map((w) => w.pool), rows.map((w) => w.worker), rows.map((w) => w.online), rows.map((w) => w.at)],
      );
    }
  }

  /**
   * Locks the count rows of `pools` (creating the missing ones), in pool order, before this
   * batch writes `pool_tasks`: the triggers that keep the counts then update only rows this
   * transaction holds. Without it two OPS replicas could each hold a task row the other's
   * batch needs while waiting for a count row the other holds (a deadlock, each batch retried).
   * A replica waits here, before touching any task, for another busy with the same pool.
   */
  private async lockPoolCounts(tx: EntityManager, pools: string[]): Promise<void> {
    if (pools.length === 0) return;
    // One statement: a new pool's row is inserted, an existing one is locked without being
    // written (ON CONFLICT DO UPDATE locks the row even when its WHERE is false), in array order.
    await preparedQuery(
      tx,
      'ops_pool_counts_lock',
      `INSERT INTO "ops"."pool_counts" AS c ("pool") SELECT unnest($1::text[])
       ON CONFLICT ("pool") DO UPDATE SET "queued" = c."queued" WHERE false`,
      [pools.sort()],
    );
  }

  /**
   * The snapshot of every pool seen (or of one).
   *
   * `task_outcomes` keeps every outcome (a week and more: each row is its event's claim), and
   * `at >= window` alone cannot use `task_outcomes_pool_at_idx`, which leads with the pool: read
   * that way, every snapshot (each SSE tick, each scrape) read the table's whole history, twice.
   * So the pools with outcomes are found with one probe of that index each (OUTCOME_POOLS_CTE),
   * and each pool's window is read as its own range of it. With a week of history (4M rows,
   * 20 pools, 24k in the hour) a snapshot took 320-390 ms before (two sequential scans of
   * 165 ms), 37-41 ms now, with the same answer.
   */
  async snapshot(pool?: string): Promise<PoolMetrics[]> {
    const now = this.clock.now();
    const windowStart = new Date(now.getTime() - this.config.OPS_METRICS_WINDOW_MINUTES * 60_000);
    const recentStart = new Date(now.getTime() - 5 * 60_000);
    const rows: PoolMetricsRow[] = await this.dataSource.query(
      `WITH RECURSIVE ${OUTCOME_POOLS_CTE},
       recent AS (
         SELECT p."pool", r.* FROM outcome_pools AS p CROSS JOIN LATERAL (
           SELECT count(*) AS outcomes,
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY "wait_seconds") FILTER (WHERE "outcome" = 'leased') AS wait_p50,
                  percentile_cont(0.95) WITHIN GROUP (ORDER BY "wait_seconds") FILTER (WHERE "outcome" = 'leased') AS wait_p95,
                  count(*) FILTER (WHERE "outcome" = 'completed' AND "at" >= $2) AS completed_recent,
                  count(*) FILTER (WHERE "outcome" = 'completed') AS completed_window,
                  count(*) FILTER (WHERE "outcome" = 'dead') AS dead_window,
                  count(*) FILTER (WHERE "outcome" = 'failed') AS failed_window
           FROM "ops"."task_outcomes" AS t WHERE t."pool" = p."pool" AND t."at" >= $1
         ) AS r
         WHERE p."pool" IS NOT NULL AND ($3::text IS NULL OR p."pool" = $3) AND r.outcomes > 0
       ),
       workers AS (
         SELECT "pool", count(*) AS workers_online FROM "ops"."pool_workers" WHERE "online" GROUP BY "pool"
       ),
       -- The counts are kept by triggers; the oldest queued task is the first entry of its index range.
       open AS (
         SELECT c."pool", c."queued" AS depth, c."leased" AS leased,
                (SELECT t."queued_at" FROM "ops"."pool_tasks" AS t WHERE t."pool" = c."pool" AND t."status" = 'queued' ORDER BY t."queued_at" LIMIT 1) AS oldest_queued_at
         FROM "ops"."pool_counts" AS c WHERE c."queued" > 0 OR c."leased" > 0
       ),
       -- From the rows above (a CTE read twice is computed once), not a scan of every open task.
       pools AS (
         SELECT "pool" FROM open
         UNION SELECT "pool" FROM recent
         UNION SELECT "pool" FROM workers
         UNION SELECT "pool" FROM "ops"."pool_scaling"
       )
       SELECT p."pool", COALESCE(o.depth, 0) AS depth, COALESCE(o.leased, 0) AS leased, o.oldest_queued_at,
              r.wait_p50, r.wait_p95, COALESCE(r.completed_recent, 0) AS completed_recent,
              COALESCE(r.completed_window, 0) AS completed_window, COALESCE(r.dead_window, 0) AS dead_window,
              COALESCE(r.failed_window, 0) AS failed_window, COALESCE(w.workers_online, 0) AS workers_online, s."desired" AS desired_replicas
       FROM pools p LEFT JOIN open o USING ("pool") LEFT JOIN recent r USING ("pool") LEFT JOIN workers w USING ("pool")
         LEFT JOIN "ops"."pool_scaling" s USING ("pool")
       WHERE $3::text IS NULL OR p."pool" = $3
       ORDER BY p."pool"`,
      [windowStart, recentStart, pool ?? null],
    );
    return rows.map((row) => {
      const completed = Number(row.completed_window);
      const finished = completed + Number(row.dead_window);
      return {
        pool: row.pool,
        depth: Number(row.depth),
        leased: Number(row.leased),
        oldestWaitSeconds: row.oldest_queued_at ? Math.max(0, (now.getTime() - new Date(row.oldest_queued_at).getTime()) / 1000) : 0,
        waitP50Seconds: row.wait_p50 === null ? null : Number(row.wait_p50),
        waitP95Seconds: row.wait_p95 === null ? null : Number(row.wait_p95),
        throughputPerMinute: Number(row.completed_recent) / 5,
        successRate: finished === 0 ? null : completed / finished,
        workersOnline: Number(row.workers_online),
        desiredReplicas: row.desired_replicas,
        updatedAt: now.toISOString(),
      };
    });
  }
}
