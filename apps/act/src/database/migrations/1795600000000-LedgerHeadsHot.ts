import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Lets an append move a chain head with a HOT update (no index entry written). The partial index
 * of the heads the next checkpoint must write was `WHERE entries <> checkpointed_entries`: every
 * append changes `entries`, a column of that predicate, so every head update was a new tuple plus
 * an entry in both indexes. Its predicate is now the flag `unchecked`, which an append leaves true
 * once set (unchanged, it does not stop a HOT update); a CHECK keeps the flag equal to the old
 * predicate, so the checkpoint still finds every changed head. The fill factor leaves room on a
 * page for the next versions of its heads (a head moves about six times in a request's life);
 * it shapes the pages written from now on, nothing is rewritten.
 */
export class LedgerHeadsHot1795600000000 implements MigrationInterface {
  name = 'LedgerHeadsHot1795600000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "act"."ledger_heads" ADD "unchecked" boolean NOT NULL DEFAULT false`);
    await queryRunner.query(`UPDATE "act"."ledger_heads" SET "unchecked" = true WHERE "entries" <> "checkpointed_entries"`);
    await queryRunner.query(`ALTER TABLE "act"."ledger_heads" ADD CONSTRAINT "ledger_heads_unchecked_check" CHECK ("unchecked" = ("entries" <> "checkpointed_entries"))`);
    await queryRunner.query(`DROP INDEX "act"."ledger_heads_unchecked_idx"`);
    await queryRunner.query(`CREATE INDEX "ledger_heads_unchecked_idx" ON "act"."ledger_heads" ("request_id") WHERE "unchecked"`);
    await queryRunner.query(`ALTER TABLE "act"."ledger_heads" SET (fillfactor = 70)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "act"."ledger_heads" RESET (fillfactor)`);
    await queryRunner.query(`DROP INDEX "act"."ledger_heads_unchecked_idx"`);
    await queryRunner.query(`CREATE INDEX "ledger_heads_unchecked_idx" ON "act"."ledger_heads" ("request_id") WHERE "entries" <> "checkpointed_entries"`);
    await queryRunner.query(`ALTER TABLE "act"."ledger_heads" DROP CONSTRAINT "ledger_heads_unchecked_check"`);
    await queryRunner.query(`ALTER TABLE "act"."ledger_heads" DROP COLUMN "unchecked"`);
  }
}
