import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `act.ledger_heads`: each request's chain head (entry count and last hash), kept outside the
 * entries and written in the same transaction as every append, so that entries deleted from the
 * tail or appended around the ledger show. `checkpointed_entries` is what the latest signed
 * checkpoint holds of the head; the partial index holds only the heads the next checkpoint must
 * write, so finding them never scans all requests.
 */
export class LedgerHeads1795300000000 implements MigrationInterface {
  name = 'LedgerHeads1795300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "act"."ledger_heads" ("request_id" uuid NOT NULL, "entries" integer NOT NULL, "hash" text NOT NULL, "checkpointed_entries" integer NOT NULL DEFAULT 0, CONSTRAINT "ledger_heads_pkey" PRIMARY KEY ("request_id"))`,
    );
    await queryRunner.query(`CREATE INDEX "ledger_heads_unchecked_idx" ON "act"."ledger_heads" ("request_id") WHERE "entries" <> "checkpointed_entries"`);
    await queryRunner.query(
      `INSERT INTO "act"."ledger_heads" ("request_id", "entries", "hash")
       SELECT DISTINCT ON ("request_id") "request_id", "seq", "hash" FROM "act"."ledger_entries" ORDER BY "request_id", "seq" DESC`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "act"."ledger_heads"`);
  }
}
