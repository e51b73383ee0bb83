import { DataSource, DefaultNamingStrategy, type EntityManager, type MixedList, type NamingStrategyInterface } from 'typeorm';

function snakeCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/([A-Z])([A-Z][a-z])/g, '$1_$2').toLowerCase();
}

/** snake_case columns for camelCase properties (tables and indexes are always named explicitly). */
export class SnakeNamingStrategy extends DefaultNamingStrategy implements NamingStrategyInterface {
  override columnName(propertyName: string, customName: string | undefined, prefixes: string[]): string {
    return customName ?? snakeCase([...prefixes, propertyName].join('_'));
  }

  override relationName(propertyName: string): string {
    return snakeCase(propertyName);
  }

  override joinColumnName(relationName: string, referencedColumnName: string): string {
    return snakeCase(`${relationName}_${referencedColumnName}`);
  }
}

export interface DataSourceOptions {
  url: string;
  /** The service's own schema; a service never reads another's. */
  schema: string;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  entities: MixedList<Function>;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  migrations: MixedList<Function>;
  poolSize?: number;
  applicationName?: string;
}

/** A TypeORM data source for one service schema. Never `synchronize`: migrations own the schema. */
export function createDataSource(options: DataSourceOptions): DataSource {
  return new DataSource({
    type: 'postgres',
    url: options.url,
    schema: options.schema,
    entities: options.entities,
    migrations: options.migrations,
    migrationsTableName: 'migrations',
    namingStrategy: new SnakeNamingStrategy(),
    synchronize: false,
    logging: false,
    applicationName: options.applicationName ?? `hms-${options.schema}`,
    extra: {
      max: options.poolSize ?? 10,
      // The hot statements are prepared (preparedQuery). A generic plan chosen while a table is
      // still empty (a seq scan) would stay cached as the table grows; plan each run instead.
      options: '-c plan_cache_mode=force_custom_plan',
    },
  });
}

/**
 * Applies pending migrations under a session advisory lock, so replicas that start together
 * migrate once and the others wait.
 */
export async function runMigrations(dataSource: DataSource, schema: string): Promise<void> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  const lockKey = `hms.migrations.${schema}`;
  try {
    await runner.query('SELECT pg_advisory_lock(hashtext($1))', [lockKey]);
    await runner.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await dataSource.runMigrations({ transaction: 'each' });
  } finally {
    await runner.query('SELECT pg_advisory_unlock(hashtext($1))', [lockKey]).catch(() => undefined);
    await runner.release();
  }
}

/**
 * SQL of the event tables every service with a database has: the transactional outbox and the
 * ids of events already consumed. Called from each service's first migration.
 */
export function eventTablesUpSql(schema: string): string[] {
  return [
    `CREATE TABLE "${schema}"."outbox" (
      "id" bigserial NOT NULL,
      "event_id" uuid NOT NULL,
      "type" text NOT NULL,
      "payload" jsonb NOT NULL,
      "headers" jsonb,
      "created_at" timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT "outbox_pkey" PRIMARY KEY ("id")
    )`,
    `CREATE TABLE "${schema}"."processed_events" (
      "consumer" text NOT NULL,
      "event_id" uuid NOT NULL,
      "processed_at" timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT "processed_events_pkey" PRIMARY KEY ("consumer", "event_id")
    )`,
  ];
}

/**
 * The index the processed-events retention deletes by (`processed_at` only grows, so inserts
 * append to its right edge and cost little).
 */
export function processedEventsRetentionIndexUpSql(schema: string): string {
  return `CREATE INDEX IF NOT EXISTS "processed_events_processed_at_idx" ON "${schema}"."processed_events" ("processed_at")`;
}

export function processedEventsRetentionIndexDownSql(schema: string): string {
  return `DROP INDEX IF EXISTS "${schema}"."processed_events_processed_at_idx"`;
}

export function eventTablesDownSql(schema: string): string[] {
  return [`DROP TABLE "${schema}"."processed_events"`, `DROP TABLE "${schema}"."outbox"`];
}

export type { EntityManager };

/** A Postgres identifier, quoted. */
function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Gives the role a service runs as (the user of its `DATABASE_URL`) what it needs on its schema,
 * and no more: rows of every table, but not DDL (it owns nothing), and only SELECT and INSERT on
 * `appendOnlyTables`. Run as the schema's owner after the migrations, on every start, so the
 * grants follow the tables the migrations create. Nothing to do when the service runs as the owner.
 */
export async function grantServiceRole(owner: DataSource, schema: string, serviceRole: string, appendOnlyTables: string[] = []): Promise<void> {
  const [{ current_user: ownerRole }] = (await owner.query('SELECT current_user')) as Array<{ current_user: string }>;
  if (ownerRole === serviceRole) return;
  const role = quoteIdentifier(serviceRole);
  const s = quoteIdentifier(schema);
  await owner.transaction(async (tx) => {
    // Replicas starting together would GRANT on the same rows of the catalog at once, which
    // Postgres refuses ("tuple concurrently updated"): take the migrations' lock.
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`hms.migrations.${schema}`]);
    await tx.query(`GRANT USAGE ON SCHEMA ${s} TO ${role}`);
    await tx.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${s} TO ${role}`);
    await tx.query(`GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA ${s} TO ${role}`);
    await tx.query(`REVOKE ALL ON ${s}."migrations" FROM ${role}`);
    for (const table of appendOnlyTables) {
      await tx.query(`REVOKE ALL ON ${s}.${quoteIdentifier(table)} FROM ${role}`);
      await tx.query(`GRANT SELECT, INSERT ON ${s}.${quoteIdentifier(table)} TO ${role}`);
    }
  });
}

/** The user a postgres:// URL connects as. */
export function databaseUser(url: string): string {
  return decodeURIComponent(new URL(url).username) || 'postgres';
}
