import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A task's input: what its step gives it to work on (the plan's `input:`, else the payload and
 * the outputs of the steps before it), shown in the lease answer beside the payload. Existing
 * rows get `{}` (a constant default: no table rewrite). `payload_bytes` now counts the input too,
 * since both travel in the lease answer.
 */
export class TaskInput1795400000101 implements MigrationInterface {
  name = 'TaskInput1795400000101';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "oms"."tasks" ADD "input" jsonb NOT NULL DEFAULT '{}'`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "oms"."tasks" DROP COLUMN "input"`);
  }
}
