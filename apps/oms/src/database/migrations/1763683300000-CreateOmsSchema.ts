import type { MigrationInterface, QueryRunner } from 'typeorm';
import { eventTablesDownSql, eventTablesUpSql } from '@hms/platform';

export class CreateOmsSchema1763683300000 implements MigrationInterface {
  name = 'CreateOmsSchema1763683300000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const sql of eventTablesUpSql('oms')) await queryRunner.query(sql);

    await queryRunner.query(`CREATE TABLE "oms"."pools" (
      "name" text NOT NULL,
      "kind" text NOT NULL,
      "lease_seconds" integer NOT NULL,
      "sla_minutes" double precision,
      "max_attempts" integer NOT NULL,
      "autoscale" jsonb,
      "escalation" jsonb,
      "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL,
      "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL,
      CONSTRAINT "pools_pkey" PRIMARY KEY ("name"),
      CONSTRAINT "pools_kind_check" CHECK ("kind" IN ('human', 'bot')),
      CONSTRAINT "pools_lease_seconds_check" CHECK ("lease_seconds" > 0),
      CONSTRAINT "pools_max_attempts_check" CHECK ("max_attempts" > 0)
    )`);

    await queryRunner.query(`CREATE TABLE "oms"."workers" (
      "id" text NOT NULL,
      "first_seen_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL,
      "last_seen_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL,
      CONSTRAINT "workers_pkey" PRIMARY KEY ("id")
    )`);

    await queryRunner.query(`CREATE TABLE "oms"."tasks" (
      "id" uuid NOT NULL,
      "request_id" text NOT NULL,
      "step_id" text NOT NULL,
      "pool" text NOT NULL,
      "title" text NOT NULL,
      "tags" text array NOT NULL,
      "priority" integer NOT NULL,
      "status" text NOT NULL,
      "attempt" integer NOT NULL,
      "max_attempts" integer NOT NULL,
      "retry" jsonb NOT NULL,
      "payload" jsonb NOT NULL,
      "output" jsonb,
      "last_error" jsonb,
      "worker" text,
      "lease_token" text,
      "lease_id" uuid,
      "lease_expires_at" TIMESTAMP(3) WITH TIME ZONE,
      "lease_duration_seconds" integer,
      "lease_seconds" integer NOT NULL,
      "ended_lease_token" text,
      "ended_outcome" jsonb,
      "sla_due_at" TIMESTAMP(3) WITH TIME ZONE,
      "available_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL,
      "queued_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL,
      "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL,
      "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL,
      CONSTRAINT "tasks_pkey" PRIMARY KEY ("id"),
      CONSTRAINT "tasks_request_step_key" UNIQUE ("request_id", "step_id"),
      CONSTRAINT "tasks_status_check" CHECK ("status" IN ('queued', 'leased', 'completed', 'dead', 'cancelled')),
      CONSTRAINT "tasks_attempt_check" CHECK ("attempt" >= 0 AND "max_attempts" > 0),
      CONSTRAINT "tasks_lease_check" CHECK (("status" = 'leased') = ("lease_token" IS NOT NULL AND "lease_expires_at" IS NOT NULL))
    )`);

    // The lease query's index: equality on pool, then exactly the ORDER BY of lease-acquire,
    // so Postgres walks it in order, skips locked rows and stops after LIMIT. Partial, so it
    // holds only the queue (not the history) and stays small and hot.
    await queryRunner.query(
      `CREATE INDEX "tasks_lease_idx" ON "oms"."tasks" ("pool", "priority" DESC, "available_at", "id") WHERE "status" = 'queued'`,
    );
    // The expiry sweep reads the leases whose deadline passed, oldest first.
    await queryRunner.query(`CREATE INDEX "tasks_lease_expiry_idx" ON "oms"."tasks" ("lease_expires_at") WHERE "status" = 'leased'`);
    // Worker liveness: the leases held by workers that went silent.
    await queryRunner.query(`CREATE INDEX "tasks_worker_leased_idx" ON "oms"."tasks" ("worker") WHERE "status" = 'leased'`);
    // List filters, keyset-paginated on (created_at, id).
    await queryRunner.query(`CREATE INDEX "tasks_created_idx" ON "oms"."tasks" ("created_at", "id")`);
    await queryRunner.query(`CREATE INDEX "tasks_pool_created_idx" ON "oms"."tasks" ("pool", "created_at", "id")`);
    await queryRunner.query(
      `CREATE INDEX "tasks_worker_created_idx" ON "oms"."tasks" ("worker", "created_at", "id") WHERE "worker" IS NOT NULL`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "oms"."tasks"`);
    await queryRunner.query(`DROP TABLE "oms"."workers"`);
    await queryRunner.query(`DROP TABLE "oms"."pools"`);
    for (const sql of eventTablesDownSql('oms')) await queryRunner.query(sql);
  }
}
