import type { MigrationInterface, QueryRunner } from 'typeorm';
import { eventTablesDownSql, eventTablesUpSql } from '@hms/platform';

export class CreateActSchema1795217124044 implements MigrationInterface {
  name = 'CreateActSchema1795217124044';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const sql of eventTablesUpSql('act')) await queryRunner.query(sql);
    await queryRunner.query(
      `CREATE TABLE "act"."plans" ("id" text NOT NULL, "version" integer NOT NULL, "title" text, "definition" jsonb NOT NULL, "content_hash" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "created_by" text NOT NULL, CONSTRAINT "plans_pkey" PRIMARY KEY ("id", "version"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "act"."requests" ("id" uuid NOT NULL, "plan" text NOT NULL, "plan_version" integer NOT NULL, "status" text NOT NULL, "payload" jsonb NOT NULL, "reference" text, "priority" integer NOT NULL, "sla_due_at" TIMESTAMP WITH TIME ZONE, "idempotency_key" text, "request_hash" text, "escalations" jsonb NOT NULL, "created_by" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL, "completed_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "requests_idempotency_key_key" UNIQUE ("idempotency_key"), CONSTRAINT "requests_status_check" CHECK ("status" IN ('running', 'completed', 'rejected', 'failed', 'cancelled')), CONSTRAINT "requests_pkey" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "requests_created_at_id_idx" ON "act"."requests" ("created_at", "id")`);
    await queryRunner.query(`CREATE INDEX "requests_plan_created_at_id_idx" ON "act"."requests" ("plan", "created_at", "id")`);
    await queryRunner.query(`CREATE INDEX "requests_status_created_at_id_idx" ON "act"."requests" ("status", "created_at", "id")`);
    await queryRunner.query(`CREATE INDEX "requests_reference_created_at_id_idx" ON "act"."requests" ("reference", "created_at", "id")`);
    await queryRunner.query(
      `CREATE TABLE "act"."request_steps" ("request_id" uuid NOT NULL, "step_id" text NOT NULL, "position" integer NOT NULL, "status" text NOT NULL, "pool" text NOT NULL, "task_id" text, "attempts" integer NOT NULL, "output" jsonb, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "request_steps_status_check" CHECK ("status" IN ('pending', 'ready', 'done', 'skipped', 'failed', 'cancelled')), CONSTRAINT "request_steps_pkey" PRIMARY KEY ("request_id", "step_id"))`,
    );
    await queryRunner.query(
      `ALTER TABLE "act"."request_steps" ADD CONSTRAINT "request_steps_request_id_fkey" FOREIGN KEY ("request_id") REFERENCES "act"."requests"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `CREATE TABLE "act"."ledger_entries" ("request_id" uuid NOT NULL, "seq" integer NOT NULL, "event_id" uuid NOT NULL, "at" TIMESTAMP WITH TIME ZONE NOT NULL, "type" text NOT NULL, "actor" text NOT NULL, "data" jsonb NOT NULL, "prev_hash" text NOT NULL, "hash" text NOT NULL, CONSTRAINT "ledger_entries_event_id_key" UNIQUE ("event_id"), CONSTRAINT "ledger_entries_pkey" PRIMARY KEY ("request_id", "seq"))`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "act"."ledger_entries"`);
    await queryRunner.query(`DROP TABLE "act"."request_steps"`);
    await queryRunner.query(`DROP TABLE "act"."requests"`);
    await queryRunner.query(`DROP TABLE "act"."plans"`);
    for (const sql of eventTablesDownSql('act')) await queryRunner.query(sql);
  }
}
