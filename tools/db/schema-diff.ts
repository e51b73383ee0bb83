/**
 * Prints the SQL that would bring a service's migrated schema in line with its entities.
 * Used to write a new migration (then read and named by a person) and by the drift tests:
 *   node dist/tools/db/schema-diff.js <act|oms|ops>   (DATABASE_URL: a scratch database)
 */
import { createDataSource, runMigrations } from '@hms/platform';
import type { MixedList } from 'typeorm';

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
type Fns = MixedList<Function>;

export async function pendingSchemaChanges(options: { url: string; schema: string; entities: Fns; migrations: Fns }): Promise<string[]> {
  const dataSource = createDataSource(options);
  await dataSource.initialize();
  try {
    await runMigrations(dataSource, options.schema);
    const sql = await dataSource.driver.createSchemaBuilder().log();
    return sql.upQueries.map((query) => query.query);
  } finally {
    await dataSource.destroy();
  }
}

async function main(): Promise<void> {
  const [service] = process.argv.slice(2);
  const url = process.env.DATABASE_URL;
  if (!url || !service) throw new Error('usage: DATABASE_URL=... node dist/tools/db/schema-diff.js <act|oms|ops>');
  const definition = require(`./service-schemas`).SERVICE_SCHEMAS[service] as { entities: Fns; migrations: Fns } | undefined;
  if (!definition) throw new Error(`unknown service '${service}'`);
  const queries = await pendingSchemaChanges({ url, schema: service, ...definition });
  process.stdout.write(queries.length === 0 ? '-- no changes\n' : `${queries.join(';\n')};\n`);
}

if (require.main === module) {
  main().catch((error: Error) => {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  });
}
