import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The ledger is append-only in the database itself, not only in our code: UPDATE, DELETE and
 * TRUNCATE raise. (A superuser can still disable triggers; the hash chain is what exposes that.)
 */
export class LedgerAppendOnly1795217124045 implements MigrationInterface {
  name = 'LedgerAppendOnly1795217124045';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE FUNCTION "act"."ledger_entries_refuse_change"() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'act.ledger_entries is append-only: % is not allowed', TG_OP;
      END
    $$`);
    await queryRunner.query(
      `CREATE TRIGGER "ledger_entries_append_only" BEFORE UPDATE OR DELETE ON "act"."ledger_entries" FOR EACH ROW EXECUTE FUNCTION "act"."ledger_entries_refuse_change"()`,
    );
    await queryRunner.query(
      `CREATE TRIGGER "ledger_entries_no_truncate" BEFORE TRUNCATE ON "act"."ledger_entries" FOR EACH STATEMENT EXECUTE FUNCTION "act"."ledger_entries_refuse_change"()`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER "ledger_entries_no_truncate" ON "act"."ledger_entries"`);
    await queryRunner.query(`DROP TRIGGER "ledger_entries_append_only" ON "act"."ledger_entries"`);
    await queryRunner.query(`DROP FUNCTION "act"."ledger_entries_refuse_change"()`);
  }
}
