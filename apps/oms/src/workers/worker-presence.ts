import { Inject, Injectable } from '@nestjs/common';
import { actingWorker, systemActor, type Actor, type WorkerHeartbeatCommand, type WorkerHeartbeatResult } from '@hms/contracts';
import { CLOCK, EventOutbox, type Clock } from '@hms/platform';
import { DataSource } from 'typeorm';
import { queryRows } from '../database/query-rows';
import { OmsConfig } from '../oms.config';
import { presenceConfirmMs, silentBefore, smallestLivenessSeconds, smallestPossibleLivenessSeconds } from './liveness-window';

const SYSTEM = systemActor('oms').id;

const pairKey = (worker: string, pool: string) => `${worker}\u0000${pool}`;

/** At most this many (worker, pool) pairs are declared gone per statement. */
export const GONE_BATCH = 500;

/**
 * Which workers are online in which pool, announced as `oms.worker.online` / `oms.worker.offline`
 * (OPS turns them into `hms_workers_online`).
 *
 * A lease call makes its worker online in the pool. To keep that off the lease path's cost, each
 * replica remembers the pairs it has confirmed for half of the smallest liveness window a pool
 * can have (see presenceConfirmMs): a worker declared gone was silent for a whole window of its
 * pool, so its pair is confirmed again (and announced again) on its first call back.
 */
@Injectable()
export class WorkerPresence {
  private readonly confirmedAt = new Map<string, number>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly outbox: EventOutbox,
    private readonly config: OmsConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  private get confirmMs(): number {
    return presenceConfirmMs(this.config.OMS_WORKER_LIVENESS_SECONDS);
  }

  /** `worker` is working `pool` now (a lease call): written at most once per {@link presenceConfirmMs} per replica. */
  async seen(worker: string, pool: string, actor: string): Promise<void> {
    const now = this.clock.now();
    const confirmed = this.confirmedAt.get(pairKey(worker, pool));
    if (confirmed !== undefined && now.getTime() - confirmed < this.confirmMs) return;
    await this.markSeen(worker, [pool], now, actor);
  }

  /**
   * An explicit worker heartbeat: seen now, always written (it is the worker's only sign of life
   * while it makes no other call), and online in each of `pools`. Answers the smallest window of
   * those pools, the one the worker must heartbeat within.
   */
  async heartbeat(command: WorkerHeartbeatCommand, actor: Actor): Promise<WorkerHeartbeatResult> {
    // A worker heartbeats only itself: one token cannot keep many "workers" online.
    const worker = actingWorker(actor, command.worker);
    const pools = [...new Set(command.pools)];
    const now = this.clock.now();
    await this.markSeen(worker, pools, now, actor.id);
    return { worker, pools, lastSeenAt: now.toISOString(), livenessSeconds: await this.smallestWindow(pools) };
  }

  /** A statement of its own rather than part of markSeen's, which the lease path shares and must not pay for. */
  private async smallestWindow(pools: string[]): Promise<number> {
    const rows = await queryRows<{ name: string; worker_liveness_seconds: number | null }>(
      this.dataSource.manager,
      `SELECT name, worker_liveness_seconds FROM oms.pools WHERE name = ANY($1::text[])`,
      [pools],
    );
    const stored = new Map(rows.map((row) => [row.name, row.worker_liveness_seconds]));
    return smallestLivenessSeconds(pools, stored, this.config.OMS_WORKER_LIVENESS_SECONDS);
  }

  private async markSeen(worker: string, pools: string[], now: Date, actor: string): Promise<void> {
    await this.outbox.transaction(async (tx, emit) => {
      // The worker's last_seen_at moves in the same statement, so the gone-worker sweep cannot
      // take a fresh pair for one left over from before a long silence.
      const joined = await queryRows<{ pool: string }>(
        tx,
        `WITH seen AS (
           INSERT INTO oms.workers AS w (id, first_seen_at, last_seen_at) VALUES ($1, $3, $3)
           ON CONFLICT (id) DO UPDATE SET last_seen_at = GREATEST(w.last_seen_at, EXCLUDED.last_seen_at)
         )
         INSERT INTO oms.worker_pools (worker, pool, joined_at) SELECT $1, pool, $3 FROM unnest($2::text[]) AS pool
         ON CONFLICT DO NOTHING RETURNING pool`,
        [worker, pools, now],
      );
      for (const { pool } of joined) emit('oms.worker.online', null, { worker, pool }, actor);
    });
    for (const pool of pools) this.confirmedAt.set(pairKey(worker, pool), now.getTime());
    if (this.confirmedAt.size > 10_000) this.forgetOld(now.getTime());
  }

  /**
   * Declares gone, pool by pool, the workers silent for longer than that pool's liveness window
   * (its own, or the default for a pool without one or not created yet: a worker heartbeat may
   * name such a pool, hence the outer join). Index: the primary keys of the three tables;
   * worker_pools holds only online pairs, so this reads little. The first two bounds only narrow
   * the workers early, as in the gone-worker lease reclaim (lease-reclaim.sql.ts): $4 is now minus
   * the smallest window any pool can have, the sub-select the smallest one any pool has. Silence
   * is measured up to now minus lastSeenResolutionMs, as there (a recent last_seen_at is not
   * rewritten on every lease or complete).
   */
  markGone(): Promise<{ full: boolean }> {
    return this.outbox.transaction(async (tx, emit) => {
      const defaultSeconds = this.config.OMS_WORKER_LIVENESS_SECONDS;
      const silentUpTo = silentBefore(this.clock.now(), defaultSeconds);
      const silentSinceAtLeast = new Date(silentUpTo.getTime() - smallestPossibleLivenessSeconds(defaultSeconds) * 1000);
      const gone = await queryRows<{ worker: string; pool: string; last_seen_at: Date }>(
        tx,
        `WITH gone AS (
           SELECT wp.worker, wp.pool, w.last_seen_at FROM oms.worker_pools AS wp
           JOIN oms.workers AS w ON w.id = wp.worker
           LEFT JOIN oms.pools AS p ON p.name = wp.pool
           WHERE w.last_seen_at < $4::timestamptz
             AND w.last_seen_at < $1::timestamptz - (SELECT LEAST(min(worker_liveness_seconds), $3::int) FROM oms.pools) * interval '1 second'
             AND w.last_seen_at < $1::timestamptz - COALESCE(p.worker_liveness_seconds, $3::int) * interval '1 second'
           LIMIT $2
           FOR UPDATE OF wp SKIP LOCKED
         )
         DELETE FROM oms.worker_pools AS wp USING gone
         WHERE wp.worker = gone.worker AND wp.pool = gone.pool
         RETURNING wp.worker, wp.pool, gone.last_seen_at`,
        [silentUpTo, GONE_BATCH, defaultSeconds, silentSinceAtLeast],
      );
      for (const row of gone) {
        emit('oms.worker.offline', null, { worker: row.worker, pool: row.pool, lastSeenAt: row.last_seen_at.toISOString() }, SYSTEM);
      }
      return { full: gone.length >= GONE_BATCH };
    });
  }

  private forgetOld(now: number): void {
    for (const [key, at] of this.confirmedAt) if (now - at >= this.confirmMs) this.confirmedAt.delete(key);
  }
}
