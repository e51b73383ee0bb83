import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What a request ended with: `result`, the plan's `output` (or its last steps' outputs) once it
 * completed, and `end_details`, why it ended otherwise (the reason of a failure or cancel, the step
 * that rejected or failed it). Nullable and null on existing rows: adding them rewrites nothing.
 */
export class RequestResult1795400000100 implements MigrationInterface {
  name = 'RequestResult1795400000100';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "act"."requests" ADD "result" jsonb`);
    await queryRunner.query(`ALTER TABLE "act"."requests" ADD "end_details" jsonb`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "act"."requests" DROP COLUMN "end_details"`);
    await queryRunner.query(`ALTER TABLE "act"."requests" DROP COLUMN "result"`);
  }
}
