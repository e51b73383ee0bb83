import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Idempotency keys are unique per caller (`created_by`), not globally: two callers choosing the
 * same key no longer collide, and a key's existence no longer leaks to another caller. Existing
 * keys were globally unique, so they are unique per caller too and the new index always builds.
 */
export class IdempotencyKeyPerCaller1795250000000 implements MigrationInterface {
  name = 'IdempotencyKeyPerCaller1795250000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "act"."requests" DROP CONSTRAINT "requests_idempotency_key_key"`);
    await queryRunner.query(
      `ALTER TABLE "act"."requests" ADD CONSTRAINT "requests_created_by_idempotency_key_key" UNIQUE ("created_by", "idempotency_key")`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "act"."requests" DROP CONSTRAINT "requests_created_by_idempotency_key_key"`);
    await queryRunner.query(`ALTER TABLE "act"."requests" ADD CONSTRAINT "requests_idempotency_key_key" UNIQUE ("idempotency_key")`);
  }
}
