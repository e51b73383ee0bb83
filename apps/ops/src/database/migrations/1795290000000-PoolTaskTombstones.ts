import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Ended tasks stay in `ops.pool_tasks` for a while as `closed`; this index finds the old ones to delete. */
export class PoolTaskTombstones1795290000000 implements MigrationInterface {
  name = 'PoolTaskTombstones1795290000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX "pool_tasks_closed_idx" ON "ops"."pool_tasks" ("last_event_at") WHERE "status" = 'closed'`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DELETE FROM "ops"."pool_tasks" WHERE "status" = 'closed'`);
    await queryRunner.query(`DROP INDEX "ops"."pool_tasks_closed_idx"`);
  }
}
