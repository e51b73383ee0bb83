import { freshTestEnvironment } from '@hms/testing';
import { Client } from 'pg';
import pino from 'pino';
import { createDataSource } from './data-source';
import { isDatabaseUnavailable } from './database-outage';
import { GenericPlanPool } from './generic-plan-pool';

const logger = pino({ level: 'silent' });

/**
 * A connection that Postgres ends while a service is using it (a restart, a failover,
 * `pg_terminate_backend`) fails that piece of work with an outage error; it must not end the
 * process, which node-postgres does by emitting 'error' on a client nobody listens to.
 */
describe('A Postgres connection ended while in use', () => {
  let environment: Awaited<ReturnType<typeof freshTestEnvironment>>;
  let admin: Client;

  beforeAll(async () => {
    environment = await freshTestEnvironment('connection_loss');
    admin = new Client({ connectionString: environment.databaseUrl });
    await admin.connect();
  });

  afterAll(async () => {
    await admin?.end();
    await environment?.dispose();
  });

  async function terminate(pid: number): Promise<void> {
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
  }

  it('fails the work on a held generic-plan connection with an outage error, and the pool serves the next', async () => {
    const pool = new GenericPlanPool({ url: environment.databaseUrl, size: 2, applicationName: 'hms-test-generic', timeouts: { statementMs: 5000, acquireMs: 5000 }, logger });
    try {
      const work = pool.onConnection(async (db) => {
        const [{ pid }] = await db.run<{ pid: number }>('connection_loss_pid', 'SELECT pg_backend_pid() AS pid', []);
        // Ended between two statements of the work: the client is checked out, and idle.
        await terminate(pid);
        await db.run('connection_loss_after', 'SELECT pg_sleep(0.5)', []);
      });
      const error = await work.then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(isDatabaseUnavailable(error)).toBe(true);
      await expect(pool.run<{ one: number }>('connection_loss_one', 'SELECT 1 AS one', [])).resolves.toEqual([{ one: 1 }]);
    } finally {
      await pool.end();
    }
  });

  it('fails a transaction with an outage error, and the data source serves the next one', async () => {
    const dataSource = createDataSource({ url: environment.databaseUrl, schema: 'public', entities: [], migrations: [], logger });
    await dataSource.initialize();
    try {
      const error = await dataSource
        .transaction(async (tx) => {
          const [{ pid }] = (await tx.query('SELECT pg_backend_pid() AS pid')) as Array<{ pid: number }>;
          await terminate(pid);
          await tx.query('SELECT pg_sleep(0.5)');
        })
        .then(
          () => undefined,
          (caught: unknown) => caught,
        );
      expect(isDatabaseUnavailable(error)).toBe(true);
      await expect(dataSource.query('SELECT 1 AS one')).resolves.toEqual([{ one: 1 }]);
    } finally {
      await dataSource.destroy();
    }
  });

  it('cancels a statement that runs past the statement timeout', async () => {
    const dataSource = createDataSource({ url: environment.databaseUrl, schema: 'public', entities: [], migrations: [], timeouts: { statementMs: 200, acquireMs: 5000 } });
    await dataSource.initialize();
    try {
      await expect(dataSource.query('SELECT pg_sleep(5)')).rejects.toMatchObject({ driverError: { code: '57014' } });
    } finally {
      await dataSource.destroy();
    }
  });
});
