import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Deadline pressure in the lease order, and the task SLA watch.
 *
 * `pick_by` is the moment a task should have been picked by: its SLA deadline, or for a task
 * without one, its creation plus OMS_UNTIMED_TASK_DEADLINE_MINUTES (tasks already queued get
 * the default, 24 h). The lease index orders by it after priority, so within a priority the task
 * closest to its deadline goes first and an untimed task cannot be starved by timed ones.
 *
 * `sla_breached_at` marks the tasks whose breach has been announced, so each is announced once;
 * the watch index holds only open, unannounced tasks with a deadline.
 */
export class DeadlineOrderAndSlaWatch1795227705988 implements MigrationInterface {
  name = 'DeadlineOrderAndSlaWatch1795227705988';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "oms"."tasks" ADD "pick_by" TIMESTAMP(3) WITH TIME ZONE`);
    await queryRunner.query(`UPDATE "oms"."tasks" SET "pick_by" = COALESCE("sla_due_at", "created_at" + interval '1440 minutes')`);
    await queryRunner.query(`ALTER TABLE "oms"."tasks" ALTER COLUMN "pick_by" SET NOT NULL`);
    await queryRunner.query(`ALTER TABLE "oms"."tasks" ADD "sla_breached_at" TIMESTAMP(3) WITH TIME ZONE`);
    await queryRunner.query(`DROP INDEX "oms"."tasks_lease_idx"`);
    await queryRunner.query(
      `CREATE INDEX "tasks_lease_idx" ON "oms"."tasks" ("pool", "priority" DESC, "pick_by", "available_at", "id") WHERE "status" = 'queued'`,
    );
    await queryRunner.query(
      `CREATE INDEX "tasks_sla_watch_idx" ON "oms"."tasks" ("sla_due_at") WHERE "status" IN ('queued', 'leased') AND "sla_breached_at" IS NULL AND "sla_due_at" IS NOT NULL`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "oms"."tasks_sla_watch_idx"`);
    await queryRunner.query(`DROP INDEX "oms"."tasks_lease_idx"`);
    await queryRunner.query(
      `CREATE INDEX "tasks_lease_idx" ON "oms"."tasks" ("pool", "priority" DESC, "available_at", "id") WHERE "status" = 'queued'`,
    );
    await queryRunner.query(`ALTER TABLE "oms"."tasks" DROP COLUMN "sla_breached_at"`);
    await queryRunner.query(`ALTER TABLE "oms"."tasks" DROP COLUMN "pick_by"`);
  }
}
