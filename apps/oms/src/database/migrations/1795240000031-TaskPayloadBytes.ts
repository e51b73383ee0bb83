import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The size of a task's payload as JSON the way it travels (JavaScript's serialization, measured
 * when the task is queued), so a lease can hand out only as many tasks as fit in one NATS reply
 * without serializing payloads to find out. `payload::text` is no stand-in: jsonb writes numbers
 * in full (`1e308` becomes 309 digits), so a payload of large numbers would look up to sixty
 * times its size. Nullable, and null on existing rows (the lease then falls back to
 * `payload::text`, an overestimate): adding it rewrites nothing, so this is instant on a big table.
 */
export class TaskPayloadBytes1795240000031 implements MigrationInterface {
  name = 'TaskPayloadBytes1795240000031';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "oms"."tasks" ADD "payload_bytes" integer`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "oms"."tasks" DROP COLUMN "payload_bytes"`);
  }
}
