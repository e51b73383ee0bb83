import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Which workers are online in which pool: a row from a worker's first lease call in a pool until
 * it is declared gone (silent for OMS_WORKER_LIVENESS_SECONDS). Small: one row per online
 * worker and pool, never per task.
 */
export class WorkerPools1795229000000 implements MigrationInterface {
  name = 'WorkerPools1795229000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TABLE "oms"."worker_pools" (
      "worker" text NOT NULL,
      "pool" text NOT NULL,
      "joined_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL,
      CONSTRAINT "worker_pools_pkey" PRIMARY KEY ("worker", "pool")
    )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "oms"."worker_pools"`);
  }
}
