import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Alerts raised by SLA breaches and dead tasks, with their escalation and webhook delivery. */
export class Alerts1795260000000 implements MigrationInterface {
  name = 'Alerts1795260000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "ops"."alerts" ("id" uuid NOT NULL, "kind" text NOT NULL, "subject_id" uuid NOT NULL, "status" text NOT NULL, "pool" text, "request_id" uuid, "task_id" uuid, "step_id" text, "message" text NOT NULL, "raised_at" TIMESTAMP WITH TIME ZONE NOT NULL, "escalation_due_at" TIMESTAMP WITH TIME ZONE, "escalated_at" TIMESTAMP WITH TIME ZONE, "escalation_pool" text, "webhook_url" text, "webhook_status" text, "webhook_attempts" integer NOT NULL DEFAULT '0', "webhook_next_at" TIMESTAMP WITH TIME ZONE, "webhook_delivered_at" TIMESTAMP WITH TIME ZONE, "webhook_last_error" text, "acknowledged_at" TIMESTAMP WITH TIME ZONE, "acknowledged_by" text, "resolved_at" TIMESTAMP WITH TIME ZONE, "resolved_by" text, "resolution" text, CONSTRAINT "alerts_kind_subject_key" UNIQUE ("kind", "subject_id"), CONSTRAINT "alerts_pkey" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "alerts_webhook_due_idx" ON "ops"."alerts"("webhook_next_at") WHERE "webhook_status" = 'pending'`,
    );
    await queryRunner.query(
      `CREATE INDEX "alerts_escalation_due_idx" ON "ops"."alerts"("escalation_due_at") WHERE "status" = 'open' AND "escalated_at" IS NULL AND "escalation_due_at" IS NOT NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX "alerts_open_request_idx" ON "ops"."alerts"("request_id") WHERE "status" <> 'resolved'`,
    );
    await queryRunner.query(
      `CREATE INDEX "alerts_open_task_idx" ON "ops"."alerts"("task_id") WHERE "status" <> 'resolved'`,
    );
    await queryRunner.query(
      `CREATE INDEX "alerts_status_raised_idx" ON "ops"."alerts"("status", "raised_at", "id")`,
    );
    await queryRunner.query(
      `CREATE INDEX "alerts_raised_idx" ON "ops"."alerts"("raised_at", "id")`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "ops"."alerts"`);
  }
}
