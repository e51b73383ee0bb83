import type { EntityManager } from 'typeorm';
import type { PostgresQueryRunner } from 'typeorm/driver/postgres/PostgresQueryRunner';
import { GenericPlanStatements } from './generic-plan-pool';

/** Where a prepared statement runs: the service's main pool or a transaction (an EntityManager), or generic-plan connections. */
export type StatementTarget = EntityManager | GenericPlanStatements;

interface PgClient {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}

/**
 * Runs a statement prepared once per connection under `name` and returns its rows (for any
 * command: RETURNING rows of an INSERT/UPDATE/DELETE too). Later runs on that connection only
 * bind and execute it. For the statements on the hot paths, whose parse and analysis cost
 * Postgres as much as running them; TypeORM sends every query unnamed, so it is parsed anew
 * each time. Inside a transaction `db` is its EntityManager and the statement runs in it.
 *
 * `name` must stand for one SQL text per process (node-postgres refuses a name reused with
 * another text); include anything the text is built from, such as the schema.
 *
 * `db` may also be a {@link GenericPlanPool} (or one of its connections) for a statement that
 * belongs there.
 */
export async function preparedQuery<T>(db: StatementTarget, name: string, sql: string, parameters: unknown[]): Promise<T[]> {
  if (db instanceof GenericPlanStatements) return db.run<T>(name, sql, parameters);
  const runner = db.queryRunner ?? db.connection.createQueryRunner();
  try {
    const client = (await (runner as PostgresQueryRunner).connect()) as PgClient;
    return (await client.query({ name, text: sql, values: parameters })).rows as T[];
  } finally {
    if (!db.queryRunner) await runner.release();
  }
}
