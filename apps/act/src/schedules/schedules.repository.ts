import type { PlanSchedule } from '@hms/contracts';
import type { EntityManager } from 'typeorm';

/**
 * Claims one fire time of a plan. Locking: the primary key (plan, fire_at) `schedule_fires_pkey`;
 * a concurrent insert of the same key by another replica blocks until that transaction ends, then
 * conflicts (DO NOTHING) if it committed, or succeeds if it rolled back. True when this
 * transaction owns the fire time and must create its request before committing.
 */
export async function insertScheduleFire(tx: EntityManager, plan: string, fireAt: Date, requestId: string, now: Date): Promise<boolean> {
  const rows: unknown[] = await tx.query(
    `INSERT INTO "act"."schedule_fires" ("plan", "fire_at", "request_id", "created_at") VALUES ($1, $2, $3, $4)
       ON CONFLICT ON CONSTRAINT "schedule_fires_pkey" DO NOTHING RETURNING "plan"`,
    [plan, fireAt, requestId, now],
  );
  return rows.length === 1;
}

/** A plan whose latest version has a schedule, and where its scheduler left off. */
export interface ScheduledPlan {
  plan: string;
  version: number;
  schedule: PlanSchedule;
  /** When the latest version was registered: no fire time before it runs. */
  registeredAt: Date;
  /** The latest fire time already run, of any version; null when none. */
  lastFireAt: Date | null;
}

/**
 * Latest version of every plan (DISTINCT ON over `plans_pkey` (id, version)), kept when it has a
 * schedule: a newer version without one stops the schedule. The last fire per plan is a backward
 * scan of `schedule_fires_pkey`. No locks: exactly-once is the fire row's job, not this read's.
 */
export async function scheduledPlans(manager: EntityManager): Promise<ScheduledPlan[]> {
  const rows: Array<{ id: string; version: number; schedule: PlanSchedule; created_at: Date; last_fire_at: Date | null }> = await manager.query(
    `SELECT "p"."id", "p"."version", "p"."definition"->'schedule' AS "schedule", "p"."created_at",
            (SELECT max("f"."fire_at") FROM "act"."schedule_fires" "f" WHERE "f"."plan" = "p"."id") AS "last_fire_at"
       FROM (SELECT DISTINCT ON ("id") "id", "version", "definition", "created_at" FROM "act"."plans" ORDER BY "id", "version" DESC) "p"
      WHERE jsonb_typeof("p"."definition"->'schedule') = 'object'`,
  );
  return rows.map((row) => ({ plan: row.id, version: row.version, schedule: row.schedule, registeredAt: row.created_at, lastFireAt: row.last_fire_at }));
}
