import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A pool's own worker liveness window. Nullable, and null for every existing pool: null means the
 * service default (OMS_WORKER_LIVENESS_SECONDS), so existing pools keep following it. The check
 * repeats the API's bounds because OMS sizes its presence cache and liveness check interval on
 * the 10 s minimum: a shorter window written behind the API's back would break both.
 * Adding a nullable column without a default rewrites nothing, so this is instant on a big table.
 */
export class PoolWorkerLiveness1795240000010 implements MigrationInterface {
  name = 'PoolWorkerLiveness1795240000010';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "oms"."pools" ADD "worker_liveness_seconds" integer`);
    await queryRunner.query(
      `ALTER TABLE "oms"."pools" ADD CONSTRAINT "pools_worker_liveness_seconds_check" CHECK ("worker_liveness_seconds" BETWEEN 10 AND 86400)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "oms"."pools" DROP CONSTRAINT "pools_worker_liveness_seconds_check"`);
    await queryRunner.query(`ALTER TABLE "oms"."pools" DROP COLUMN "worker_liveness_seconds"`);
  }
}
