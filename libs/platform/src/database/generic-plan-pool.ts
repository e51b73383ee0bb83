import { DatabaseError, Pool, type PoolClient } from 'pg';
import type { Logger } from 'pino';
import { isDatabaseUnavailable } from './database-outage';
import { idleConnectionErrorHandler, resilientPoolOptions, type DatabaseTimeouts } from './data-source';

/** Where a prepared statement of this pool runs: any connection of the pool, or one held. */
export abstract class GenericPlanStatements {
  abstract run<T>(name: string, sql: string, values: unknown[]): Promise<T[]>;
}

/** One connection of a {@link GenericPlanPool}, held for the length of a piece of work. */
class HeldGenericPlanConnection extends GenericPlanStatements {
  constructor(private readonly client: PoolClient) {
    super();
  }

  async run<T>(name: string, sql: string, values: unknown[]): Promise<T[]> {
    return (await this.client.query({ name, text: sql, values })).rows as T[];
  }
}

/** How long a connection (and with it its plans) is kept. */
const GENERIC_PLAN_CONNECTION_LIFETIME_SECONDS = 60;

export interface GenericPlanPoolOptions {
  url: string;
  size: number;
  applicationName: string;
  timeouts: DatabaseTimeouts;
  logger: Logger;
}

/**
 * Connections on which Postgres plans each prepared statement once and keeps that plan
 * (`plan_cache_mode = force_generic_plan`), for the few one-statement writes on a service's hot
 * path. The service's main pool plans every run (`force_custom_plan`, see data-source.ts) so that
 * no statement keeps a plan made for an empty table; for these statements that planning costs
 * about a third of their time, on every lease, completion and pickup.
 *
 * Only a statement whose generic plan is the same as its custom plans for every argument belongs
 * here: rows reached by primary or unique key, or an index walked from its top in its own order
 * up to a LIMIT. Each one says so where it is defined, and an integration test (generic-plans)
 * checks its plan on an empty table and on a deep one. (On an empty table a plan may pick an
 * index that is empty too; it is remade when the table is first analyzed.)
 *
 * The pool opens connections only as it needs them, up to `size`, and closes idle ones.
 */
export class GenericPlanPool extends GenericPlanStatements {
  private readonly pool: Pool;

  constructor(options: GenericPlanPoolOptions) {
    super();
    const { statementTimeoutOption, ...resilient } = resilientPoolOptions(options.timeouts);
    this.pool = new Pool({
      ...resilient,
      connectionString: options.url,
      max: options.size,
      application_name: options.applicationName,
      options: `-c plan_cache_mode=force_generic_plan ${statementTimeoutOption}`,
      // Postgres remakes a kept plan when the table is analyzed; a connection's plans also
      // last no longer than the connection, so one made while a table was small is gone
      // within a minute even if autovacuum has not come round yet.
      maxLifetimeSeconds: GENERIC_PLAN_CONNECTION_LIFETIME_SECONDS,
    });
    // An idle connection that breaks (a Postgres restart) is dropped from the pool; the next
    // statement opens a new one. Without a listener the error would end the process.
    this.pool.on('error', idleConnectionErrorHandler(options.logger, 'generic-plan'));
  }

  async run<T>(name: string, sql: string, values: unknown[]): Promise<T[]> {
    return (await this.pool.query({ name, text: sql, values })).rows as T[];
  }

  /**
   * Runs `work` on one connection, taken before `work` starts (for statements whose timestamps
   * must not predate them: read the clock inside `work`).
   */
  async onConnection<T>(work: (db: GenericPlanStatements) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      return await work(new HeldGenericPlanConnection(client));
    } catch (error) {
      // A statement Postgres refused leaves the connection usable; anything else may not, nor
      // does a server ending the session (57P01…): its last words arrive as a DatabaseError.
      if (!(error instanceof DatabaseError) || isDatabaseUnavailable(error)) broken = error instanceof Error ? error : new Error(String(error));
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async end(): Promise<void> {
    await this.pool.end();
  }
}
