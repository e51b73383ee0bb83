import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Workers online per pool, from OMS's `oms.worker.online` / `oms.worker.offline` events. */
export class PoolWorkers1795229100000 implements MigrationInterface {
  name = 'PoolWorkers1795229100000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "ops"."pool_workers" ("pool" text NOT NULL, "worker" text NOT NULL, "online" boolean NOT NULL, "last_event_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "pool_workers_pkey" PRIMARY KEY ("pool", "worker"))`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "ops"."pool_workers"`);
  }
}
