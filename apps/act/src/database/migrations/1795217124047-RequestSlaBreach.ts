import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `act.requests.sla_breached_at`: when the SLA sweep found the request running past its
 * `sla_due_at` (set once; the sweep's "exactly one breach per request"). The partial index holds
 * only the sweep's candidates, so each tick is an index range scan, not a scan of all requests.
 */
export class RequestSlaBreach1795217124047 implements MigrationInterface {
  name = 'RequestSlaBreach1795217124047';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "act"."requests" ADD "sla_breached_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(
      `CREATE INDEX "requests_sla_due_idx" ON "act"."requests" ("sla_due_at") WHERE "status" = 'running' AND "sla_breached_at" IS NULL`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "act"."requests_sla_due_idx"`);
    await queryRunner.query(`ALTER TABLE "act"."requests" DROP COLUMN "sla_breached_at"`);
  }
}
