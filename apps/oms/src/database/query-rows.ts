import type { EntityManager } from 'typeorm';

/**
 * Runs one statement and returns its rows, whatever its command. (`EntityManager.query` answers
 * an UPDATE with `[rows, count]` but a SELECT with `rows`, which is easy to get wrong.) The hot
 * statements use preparedQuery (libs/platform) instead.
 */
export async function queryRows<T>(db: EntityManager, sql: string, parameters: unknown[] = []): Promise<T[]> {
  const runner = db.queryRunner ?? db.connection.createQueryRunner();
  try {
    const result = await runner.query(sql, parameters, true);
    return (result.records ?? []) as T[];
  } finally {
    if (!db.queryRunner) await runner.release();
  }
}
