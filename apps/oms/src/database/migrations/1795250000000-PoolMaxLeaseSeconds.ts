import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A pool's cap on the lease length a caller may ask for (a lease's `leaseSeconds`, a heartbeat's
 * `extendSeconds`). Null for every existing pool: the default cap (DEFAULT_MAX_LEASE_SECONDS).
 * A nullable column without a default rewrites nothing, so this is instant on a big table.
 */
export class PoolMaxLeaseSeconds1795250000000 implements MigrationInterface {
  name = 'PoolMaxLeaseSeconds1795250000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "oms"."pools" ADD "max_lease_seconds" integer`);
    await queryRunner.query(`ALTER TABLE "oms"."pools" ADD CONSTRAINT "pools_max_lease_seconds_check" CHECK ("max_lease_seconds" > 0)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "oms"."pools" DROP CONSTRAINT "pools_max_lease_seconds_check"`);
    await queryRunner.query(`ALTER TABLE "oms"."pools" DROP COLUMN "max_lease_seconds"`);
  }
}
