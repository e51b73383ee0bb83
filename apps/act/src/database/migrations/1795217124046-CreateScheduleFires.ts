import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `act.schedule_fires`: one row per fire time of a plan schedule that has run. Its primary key
 * (plan, fire_at) makes a fire time create exactly one request across replicas, and gives the last
 * fire of a plan (where the scheduler resumes). No foreign key to `requests`: the fire row is
 * inserted first in the transaction that then creates the request.
 */
export class CreateScheduleFires1795217124046 implements MigrationInterface {
  name = 'CreateScheduleFires1795217124046';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "act"."schedule_fires" ("plan" text NOT NULL, "fire_at" TIMESTAMP WITH TIME ZONE NOT NULL, "request_id" uuid NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "schedule_fires_pkey" PRIMARY KEY ("plan", "fire_at"))`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "act"."schedule_fires"`);
  }
}
