import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Signed changes of each pool's queued and leased counts among `rows` (a transition table), for {@link PoolCounts1795280000000}. */
const deltas = (rows: string, sign: '+' | '-') =>
  `SELECT "pool", ${sign}count(*) FILTER (WHERE "status" = 'queued') AS "queued", ${sign}count(*) FILTER (WHERE "status" = 'leased') AS "leased" FROM ${rows} GROUP BY "pool"`;

/** Adds summed deltas to `ops.pool_counts`, creating a pool's row on first use; in pool order, so writers lock the rows in one order. */
const addDeltas = (source: string) => `
    INSERT INTO "ops"."pool_counts" AS c ("pool", "queued", "leased")
    SELECT "pool", sum("queued"), sum("leased") FROM (${source}) AS d GROUP BY "pool" HAVING sum("queued") <> 0 OR sum("leased") <> 0 ORDER BY "pool"
    ON CONFLICT ("pool") DO UPDATE SET "queued" = c."queued" + EXCLUDED."queued", "leased" = c."leased" + EXCLUDED."leased";`;

/**
 * Each pool's queued and leased counts, kept by statement triggers on `ops.pool_tasks` from the
 * rows each statement actually changed (its transition tables), so they are exact whichever OPS
 * replica applies which event, and the snapshot reads a row per pool instead of counting every
 * open task (about 120 ms at a million).
 */
export class PoolCounts1795280000000 implements MigrationInterface {
  name = 'PoolCounts1795280000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "ops"."pool_counts" ("pool" text NOT NULL, "queued" bigint NOT NULL DEFAULT 0, "leased" bigint NOT NULL DEFAULT 0, CONSTRAINT "pool_counts_pkey" PRIMARY KEY ("pool"))`,
    );
    await queryRunner.query(`CREATE FUNCTION "ops"."pool_counts_follow"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN${addDeltas(deltas('new_rows', '+'))}
  ELSIF TG_OP = 'DELETE' THEN${addDeltas(deltas('old_rows', '-'))}
  ELSE${addDeltas(`${deltas('new_rows', '+')} UNION ALL ${deltas('old_rows', '-')}`)}
  END IF;
  RETURN NULL;
END
$$`);
    await queryRunner.query(
      `CREATE TRIGGER "pool_tasks_counts_insert" AFTER INSERT ON "ops"."pool_tasks" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "ops"."pool_counts_follow"()`,
    );
    await queryRunner.query(
      `CREATE TRIGGER "pool_tasks_counts_update" AFTER UPDATE ON "ops"."pool_tasks" REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "ops"."pool_counts_follow"()`,
    );
    await queryRunner.query(
      `CREATE TRIGGER "pool_tasks_counts_delete" AFTER DELETE ON "ops"."pool_tasks" REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION "ops"."pool_counts_follow"()`,
    );
    // The open tasks OPS already knows of. Migrations run under an advisory lock, before the consumer starts.
    await queryRunner.query(
      `INSERT INTO "ops"."pool_counts" ("pool", "queued", "leased")
       SELECT "pool", count(*) FILTER (WHERE "status" = 'queued'), count(*) FILTER (WHERE "status" = 'leased') FROM "ops"."pool_tasks" GROUP BY "pool"`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER "pool_tasks_counts_delete" ON "ops"."pool_tasks"`);
    await queryRunner.query(`DROP TRIGGER "pool_tasks_counts_update" ON "ops"."pool_tasks"`);
    await queryRunner.query(`DROP TRIGGER "pool_tasks_counts_insert" ON "ops"."pool_tasks"`);
    await queryRunner.query(`DROP FUNCTION "ops"."pool_counts_follow"()`);
    await queryRunner.query(`DROP TABLE "ops"."pool_counts"`);
  }
}
