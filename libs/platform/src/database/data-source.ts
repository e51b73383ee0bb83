import { Client, type ClientConfig } from 'pg';
import type { Logger } from 'pino';
import { DataSource, DefaultNamingStrategy, MigrationExecutor, type EntityManager, type MixedList, type NamingStrategyInterface } from 'typeorm';
import { errorSummary, isDatabaseUnavailable } from './database-outage';

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
  /** {@link DEFAULT_DATABASE_TIMEOUTS} when absent. */
  timeouts?: DatabaseTimeouts;
  /** Where broken idle connections are reported; unreported when absent (tools, tests). */
  logger?: Logger;
}

/** How long the services wait on Postgres before they give up and answer UNAVAILABLE. */
export interface DatabaseTimeouts {
  /** `statement_timeout` of every connection: a statement running longer is cancelled. */
  statementMs: number;
  /** Waiting for a connection (a free one from the pool, or a new one to open) fails after this. */
  acquireMs: number;
}

/**
 * A statement is cancelled after 30 s: far past any request's wait (the gateway gives up after
 * 10 s), yet above what a sweep over a large table takes. A connection is waited for 10 s, the
 * gateway's wait: a caller that got no connection by then has already given up.
 */
export const DEFAULT_DATABASE_TIMEOUTS: DatabaseTimeouts = { statementMs: 30_000, acquireMs: 10_000 };

/**
 * A node-postgres client that always has an 'error' listener. node-postgres emits 'error' on a
 * client whose connection breaks (a Postgres restart) even while a query of it is failing with
 * the same error; the pool listens only while the client is idle, so a client that was checked
 * out at that moment (a transaction, the outbox relay, a held generic-plan connection) would
 * end the process. The error itself reaches the query, or the pool's 'error' event.
 */
export class ResilientClient extends Client {
  constructor(config?: string | ClientConfig) {
    super(config);
    this.on('error', () => undefined);
  }
}

/**
 * Pool settings shared by every Postgres pool of a service: the resilient client, the timeouts,
 * and TCP keep-alive (so a connection to a host that vanished is noticed).
 */
export function resilientPoolOptions(timeouts: DatabaseTimeouts): { Client: typeof Client; connectionTimeoutMillis: number; keepAlive: boolean; statementTimeoutOption: string } {
  return {
    Client: ResilientClient,
    connectionTimeoutMillis: timeouts.acquireMs,
    keepAlive: true,
    statementTimeoutOption: `-c statement_timeout=${Math.trunc(timeouts.statementMs)}`,
  };
}

/**
 * Logs an idle pooled connection that broke. The pool drops it and the next statement opens a
 * new one; the outage itself is reported by whatever fails next (OutageLog), so an expected
 * loss is a debug line with the message only (never the client the pool hands over with it).
 */
export function idleConnectionErrorHandler(logger: Logger | undefined, pool: string): (error: Error) => void {
  return (error) => {
    if (!logger) return;
    if (isDatabaseUnavailable(error)) logger.debug({ pool, reason: errorSummary(error) }, 'idle Postgres connection dropped');
    else logger.warn({ pool, reason: errorSummary(error) }, 'idle Postgres connection failed; dropped');
  };
}

/** A TypeORM data source for one service schema. Never `synchronize`: migrations own the schema. */
export function createDataSource(options: DataSourceOptions): DataSource {
  const { statementTimeoutOption, ...pool } = resilientPoolOptions(options.timeouts ?? DEFAULT_DATABASE_TIMEOUTS);
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
    poolErrorHandler: idleConnectionErrorHandler(options.logger, 'main'),
    extra: {
      ...pool,
      max: options.poolSize ?? 10,
      // The hot statements are prepared (preparedQuery). A generic plan chosen while a table is
      // still empty (a seq scan) would stay cached as the table grows; plan each run instead.
      options: `-c plan_cache_mode=force_custom_plan ${statementTimeoutOption}`,
    },
  });
}

/**
 * Applies pending migrations under a session advisory lock, so replicas that start together
 * migrate once and the others wait. On a connection without `statement_timeout`: waiting for
 * another replica's migration, or building an index on a large table, may take longer than
 * any request should.
 */
export async function runMigrations(dataSource: DataSource, schema: string): Promise<void> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  const lockKey = `hms.migrations.${schema}`;
  try {
    await runner.query('SET statement_timeout = 0');
    await runner.query('SELECT pg_advisory_lock(hashtext($1))', [lockKey]);
    await runner.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    const executor = new MigrationExecutor(dataSource, runner);
    executor.transaction = 'each';
    await executor.executePendingMigrations();
  } finally {
    await runner.query('SELECT pg_advisory_unlock(hashtext($1))', [lockKey]).catch(() => undefined);
    await runner.query('RESET statement_timeout').catch(() => undefined);
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

/**
 * SQL of the events a service's consumers gave up on (ParkedEvents), for a migration of each
 * service. The event is kept as JSON text, not jsonb: jsonb refuses `\u0000` and lone
 * surrogates, which may be what made the event fail in the first place.
 */
export function parkedEventsTableUpSql(schema: string): string[] {
  return [
    `CREATE TABLE "${schema}"."parked_events" (
      "id" uuid NOT NULL,
      "consumer" text NOT NULL,
      "event_id" uuid NOT NULL,
      "type" text NOT NULL,
      "subject" text NOT NULL,
      "request_id" uuid,
      "event" text NOT NULL,
      "last_error" text NOT NULL,
      "delivery_count" integer NOT NULL,
      "parked_at" timestamptz NOT NULL,
      CONSTRAINT "parked_events_pkey" PRIMARY KEY ("id"),
      CONSTRAINT "parked_events_consumer_event_key" UNIQUE ("consumer", "event_id")
    )`,
    // The operators' list: newest first, by (parked_at, id) cursor.
    `CREATE INDEX "parked_events_parked_at_idx" ON "${schema}"."parked_events" ("parked_at", "id")`,
  ];
}

export function parkedEventsTableDownSql(schema: string): string[] {
  return [`DROP TABLE "${schema}"."parked_events"`];
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
