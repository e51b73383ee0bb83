import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Fan-out (`forEach:`): `act.fan_outs` holds a started fan-out's list and its counters (items
 * emitted as tasks, completed, dead), `act.fan_out_items` one row per item that ended, with its
 * output, written a consumer batch at a time; `request_steps.failed_items` the indexes of a
 * finished fan-out's dead items. New tables and a nullable column: nothing existing is rewritten.
 */
export class FanOuts1795500000000 implements MigrationInterface {
  name = 'FanOuts1795500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "act"."request_steps" ADD "failed_items" integer array`);
    await queryRunner.query(`CREATE TABLE "act"."fan_outs" (
      "request_id" uuid NOT NULL,
      "step_id" text NOT NULL,
      "items" jsonb NOT NULL,
      "total" integer NOT NULL,
      "emitted" integer NOT NULL,
      "completed" integer NOT NULL,
      "failed" integer NOT NULL,
      "emitting" boolean NOT NULL,
      CONSTRAINT "fan_outs_pkey" PRIMARY KEY ("request_id", "step_id"),
      CONSTRAINT "fan_outs_request_step_fkey" FOREIGN KEY ("request_id", "step_id") REFERENCES "act"."request_steps"("request_id", "step_id") ON DELETE CASCADE
    )`);
    await queryRunner.query(`CREATE INDEX "fan_outs_emitting_idx" ON "act"."fan_outs" ("request_id") WHERE "emitting"`);
    await queryRunner.query(`CREATE TABLE "act"."fan_out_items" (
      "request_id" uuid NOT NULL,
      "step_id" text NOT NULL,
      "index" integer NOT NULL,
      "status" text NOT NULL,
      "output" jsonb,
      CONSTRAINT "fan_out_items_status_check" CHECK ("status" IN ('completed', 'dead')),
      CONSTRAINT "fan_out_items_pkey" PRIMARY KEY ("request_id", "step_id", "index"),
      CONSTRAINT "fan_out_items_fan_out_fkey" FOREIGN KEY ("request_id", "step_id") REFERENCES "act"."fan_outs"("request_id", "step_id") ON DELETE CASCADE
    )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "act"."fan_out_items"`);
    await queryRunner.query(`DROP TABLE "act"."fan_outs"`);
    await queryRunner.query(`ALTER TABLE "act"."request_steps" DROP COLUMN "failed_items"`);
  }
}
