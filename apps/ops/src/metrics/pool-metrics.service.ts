import { Inject, Injectable } from '@nestjs/common';
import type { AnyHmsEvent, PoolMetrics } from '@hms/contracts';
import { CLOCK, type Clock } from '@hms/platform';
import { DataSource, type EntityManager } from 'typeorm';
import { OpsConfig } from '../ops.config';

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

  async apply(event: AnyHmsEvent, tx: EntityManager): Promise<void> {
    const at = event.at;
    switch (event.type) {
      case 'oms.task.queued':
        await this.upsertOpen(tx, event.data.taskId, event.data.pool, 'queued', at, null, at);
        return;
      case 'oms.task.requeued':
        await this.upsertOpen(tx, event.data.taskId, event.data.pool, 'queued', at, null, at);
        return;
      case 'oms.task.leased':
        await this.upsertOpen(tx, event.data.taskId, event.data.pool, 'leased', null, event.data.worker, at);
        await this.outcome(tx, event.data.pool, 'leased', at, event.data.waitedMs / 1000, event.data.worker);
        return;
      case 'oms.task.failed':
        await this.outcome(tx, event.data.pool, 'failed', at, null, event.data.worker);
        if (event.data.retryAt) await this.upsertOpen(tx, event.data.taskId, event.data.pool, 'queued', event.data.retryAt, null, at);
        return;
      case 'oms.task.completed':
        await this.outcome(tx, event.data.pool, 'completed', at, null, event.data.worker);
        await this.close(tx, event.data.taskId, at);
        return;
      case 'oms.task.dead':
        await this.outcome(tx, event.data.pool, 'dead', at, null, null);
        await this.close(tx, event.data.taskId, at);
        return;
      case 'oms.task.cancelled':
        await this.close(tx, event.data.taskId, at);
        return;
      case 'oms.worker.online':
      case 'oms.worker.offline':
        await tx.query(
          `INSERT INTO "ops"."pool_workers" ("pool", "worker", "online", "last_event_at") VALUES ($1, $2, $3, $4)
           ON CONFLICT ("pool", "worker") DO UPDATE SET "online" = EXCLUDED."online", "last_event_at" = EXCLUDED."last_event_at"
           WHERE "pool_workers"."last_event_at" <= EXCLUDED."last_event_at"`,
          [event.data.pool, event.data.worker, event.type === 'oms.worker.online', at],
        );
        return;
      case 'oms.task.rerouted':
        await tx.query(`UPDATE "ops"."pool_tasks" SET "pool" = $2, "status" = 'queued', "worker" = NULL, "last_event_at" = $3 WHERE "task_id" = $1 AND "last_event_at" <= $3`, [
          event.data.taskId,
          event.data.toPool,
          at,
        ]);
        return;
      default:
        return;
    }
  }

  /** Inserts or moves an open task; an event older than the row's newest is ignored. */
  private async upsertOpen(tx: EntityManager, taskId: string, pool: string, status: 'queued' | 'leased', queuedAt: string | null, worker: string | null, at: string) {
    await tx.query(
      `INSERT INTO "ops"."pool_tasks" ("task_id", "pool", "status", "queued_at", "worker", "last_event_at")
       VALUES ($1, $2, $3, COALESCE($4::timestamptz, $6::timestamptz), $5, $6)
       ON CONFLICT ("task_id") DO UPDATE SET
         "pool" = EXCLUDED."pool", "status" = EXCLUDED."status", "worker" = EXCLUDED."worker",
         "queued_at" = COALESCE($4::timestamptz, "pool_tasks"."queued_at"), "last_event_at" = EXCLUDED."last_event_at"
       WHERE "pool_tasks"."last_event_at" <= EXCLUDED."last_event_at"`,
      [taskId, pool, status, queuedAt, worker, at],
    );
  }

  private async close(tx: EntityManager, taskId: string, at: string) {
    await tx.query(`DELETE FROM "ops"."pool_tasks" WHERE "task_id" = $1 AND "last_event_at" <= $2`, [taskId, at]);
  }

  private async outcome(tx: EntityManager, pool: string, outcome: string, at: string, waitSeconds: number | null, worker: string | null) {
    await tx.query(`INSERT INTO "ops"."task_outcomes" ("pool", "outcome", "at", "wait_seconds", "worker") VALUES ($1, $2, $3, $4, $5)`, [
      pool,
      outcome,
      at,
      waitSeconds,
      worker,
    ]);
  }

  /** The snapshot of every pool seen (or of one). */
  async snapshot(pool?: string): Promise<PoolMetrics[]> {
    const now = this.clock.now();
    const windowStart = new Date(now.getTime() - this.config.OPS_METRICS_WINDOW_MINUTES * 60_000);
    const recentStart = new Date(now.getTime() - 5 * 60_000);
    const rows: PoolMetricsRow[] = await this.dataSource.query(
      `WITH pools AS (
         SELECT DISTINCT "pool" FROM "ops"."pool_tasks"
         UNION SELECT DISTINCT "pool" FROM "ops"."task_outcomes" WHERE "at" >= $1
         UNION SELECT DISTINCT "pool" FROM "ops"."pool_workers" WHERE "online"
       ),
       workers AS (
         SELECT "pool", count(*) AS workers_online FROM "ops"."pool_workers" WHERE "online" GROUP BY "pool"
       ),
       open AS (
         SELECT "pool",
                count(*) FILTER (WHERE "status" = 'queued') AS depth,
                count(*) FILTER (WHERE "status" = 'leased') AS leased,
                min("queued_at") FILTER (WHERE "status" = 'queued') AS oldest_queued_at
         FROM "ops"."pool_tasks" GROUP BY "pool"
       ),
       recent AS (
         SELECT "pool",
                percentile_cont(0.5) WITHIN GROUP (ORDER BY "wait_seconds") FILTER (WHERE "outcome" = 'leased') AS wait_p50,
                percentile_cont(0.95) WITHIN GROUP (ORDER BY "wait_seconds") FILTER (WHERE "outcome" = 'leased') AS wait_p95,
                count(*) FILTER (WHERE "outcome" = 'completed' AND "at" >= $2) AS completed_recent,
                count(*) FILTER (WHERE "outcome" = 'completed') AS completed_window,
                count(*) FILTER (WHERE "outcome" = 'dead') AS dead_window,
                count(*) FILTER (WHERE "outcome" = 'failed') AS failed_window
         FROM "ops"."task_outcomes" WHERE "at" >= $1 GROUP BY "pool"
       )
       SELECT p."pool", COALESCE(o.depth, 0) AS depth, COALESCE(o.leased, 0) AS leased, o.oldest_queued_at,
              r.wait_p50, r.wait_p95, COALESCE(r.completed_recent, 0) AS completed_recent,
              COALESCE(r.completed_window, 0) AS completed_window, COALESCE(r.dead_window, 0) AS dead_window,
              COALESCE(r.failed_window, 0) AS failed_window, COALESCE(w.workers_online, 0) AS workers_online
       FROM pools p LEFT JOIN open o USING ("pool") LEFT JOIN recent r USING ("pool") LEFT JOIN workers w USING ("pool")
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
        desiredReplicas: null,
        updatedAt: now.toISOString(),
      };
    });
  }
}
