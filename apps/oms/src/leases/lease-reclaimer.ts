import { Inject, Injectable } from '@nestjs/common';
import { systemActor } from '@hms/contracts';
import { CLOCK, EventOutbox, type Clock } from '@hms/platform';
import type { EntityManager } from 'typeorm';
import { AfterCommit } from '../database/after-commit';
import { OmsConfig } from '../oms.config';
import { RECLAIM_BATCH, reclaimExpiredLeases, reclaimLeasesOfGoneWorkers, type ReclaimedRow } from './lease-reclaim.sql';
import { TaskSignals } from './task-signals';

const SYSTEM = systemActor('oms').id;

/** Takes back leases whose holder lost them: past their deadline, or held by a silent worker. */
@Injectable()
export class LeaseReclaimer {
  constructor(
    private readonly outbox: EventOutbox,
    private readonly signals: TaskSignals,
    private readonly afterCommit: AfterCommit,
    private readonly config: OmsConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** One batch of expired leases; true when the batch was full (more may be due). */
  reclaimExpired(): Promise<{ full: boolean }> {
    return this.reclaim('lease-expired', (tx, now) => reclaimExpiredLeases(tx, now));
  }

  /**
   * One batch of leases held by workers silent for longer than the liveness window of the task's
   * pool (OMS_WORKER_LIVENESS_SECONDS for a pool without its own).
   */
  reclaimFromGoneWorkers(): Promise<{ full: boolean }> {
    return this.reclaim('worker-gone', (tx, now) => reclaimLeasesOfGoneWorkers(tx, now, this.config.OMS_WORKER_LIVENESS_SECONDS));
  }

  private reclaim(reason: 'lease-expired' | 'worker-gone', pick: (tx: EntityManager, now: Date) => Promise<ReclaimedRow[]>) {
    return this.outbox.transaction(async (tx, emit) => {
      const rows = await pick(tx, this.clock.now());
      const requeued = new Map<string, string[][]>();
      for (const row of rows) {
        if (row.status === 'queued') {
          emit(
            'oms.task.requeued',
            row.request_id,
            { taskId: row.id, stepId: row.step_id, pool: row.pool, leaseId: row.lease_id, attempt: row.attempt, reason },
            SYSTEM,
          );
          requeued.set(row.pool, [...(requeued.get(row.pool) ?? []), row.tags]);
        } else {
          const message = reason === 'lease-expired' ? 'The lease expired on the last attempt' : 'The worker holding the last attempt is gone';
          emit(
            'oms.task.dead',
            row.request_id,
            { taskId: row.id, stepId: row.step_id, pool: row.pool, attempts: row.attempt, error: { message, code: reason === 'lease-expired' ? 'LEASE_EXPIRED' : 'WORKER_GONE' } },
            SYSTEM,
          );
        }
      }
      this.afterCommit.run(tx, () => {
        for (const [pool, tags] of requeued) this.signals.announce(pool, tags);
      });
      return { full: rows.length >= RECLAIM_BATCH };
    });
  }
}
