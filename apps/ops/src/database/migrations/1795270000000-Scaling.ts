import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Autoscaling: where each autoscaled pool stands, and the log of decisions that changed something. */
export class Scaling1795270000000 implements MigrationInterface {
  name = 'Scaling1795270000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "ops"."pool_scaling" ("pool" text NOT NULL, "desired" integer NOT NULL, "desired_since" TIMESTAMP WITH TIME ZONE NOT NULL, "current" integer, "held" boolean NOT NULL, "error" text, "evaluated_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "pool_scaling_pkey" PRIMARY KEY ("pool"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "ops"."scaling_decisions" ("id" uuid NOT NULL, "pool" text NOT NULL, "at" TIMESTAMP WITH TIME ZONE NOT NULL, "queued" integer NOT NULL, "current" integer, "desired" integer NOT NULL, "reason" text NOT NULL, "applied" boolean NOT NULL, CONSTRAINT "scaling_decisions_pkey" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "scaling_decisions_at_idx" ON "ops"."scaling_decisions"("at", "id")`);
    await queryRunner.query(`CREATE INDEX "scaling_decisions_pool_at_idx" ON "ops"."scaling_decisions"("pool", "at", "id")`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "ops"."scaling_decisions"`);
    await queryRunner.query(`DROP TABLE "ops"."pool_scaling"`);
  }
}
