import { createDataSource, runMigrations } from '@hms/platform';
import { freshTestEnvironment } from '@hms/testing';
import type { DataSource } from 'typeorm';
import { OMS_ENTITIES } from './entities';
import { OMS_MIGRATIONS } from './migrations';

jest.setTimeout(60_000);

describe('OMS migrations', () => {
  let environment: Awaited<ReturnType<typeof freshTestEnvironment>>;
  let dataSource: DataSource;

  beforeAll(async () => {
    environment = await freshTestEnvironment('oms_drift');
    dataSource = createDataSource({ url: environment.databaseUrl, schema: 'oms', entities: OMS_ENTITIES, migrations: OMS_MIGRATIONS });
    await dataSource.initialize();
    await runMigrations(dataSource, 'oms');
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await environment?.dispose();
  });

  it('leave nothing for the entities to change (no drift)', async () => {
    const sql = await dataSource.driver.createSchemaBuilder().log();
    expect(sql.upQueries.map((query) => query.query)).toEqual([]);
  });

  it('create every named index with its exact definition', async () => {
    const rows: Array<{ indexname: string; indexdef: string }> = await dataSource.query(
      `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'oms' AND tablename = 'tasks' ORDER BY indexname`,
    );
    const byName = Object.fromEntries(rows.map((row) => [row.indexname, row.indexdef.replace(/^.* USING btree /, '')]));
    expect(byName).toEqual({
      tasks_pkey: '(id)',
      tasks_request_step_key: '(request_id, step_id)',
      tasks_lease_idx: `(pool, priority DESC, pick_by, available_at, id) WHERE (status = 'queued'::text)`,
      tasks_sla_watch_idx: `(sla_due_at) WHERE ((status = ANY (ARRAY['queued'::text, 'leased'::text])) AND (sla_breached_at IS NULL) AND (sla_due_at IS NOT NULL))`,
      tasks_lease_expiry_idx: `(lease_expires_at) WHERE (status = 'leased'::text)`,
      tasks_worker_leased_idx: `(worker) WHERE (status = 'leased'::text)`,
      tasks_created_idx: '(created_at, id)',
      tasks_pool_created_idx: '(pool, created_at, id)',
      tasks_worker_created_idx: '(worker, created_at, id) WHERE (worker IS NOT NULL)',
    });
  });

  it('revert cleanly and apply again', async () => {
    for (let undone = 0; undone < OMS_MIGRATIONS.length; undone++) await dataSource.undoLastMigration({ transaction: 'each' });
    const left: unknown[] = await dataSource.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'oms' AND tablename <> 'migrations'`);
    expect(left).toEqual([]);
    await runMigrations(dataSource, 'oms');
    const sql = await dataSource.driver.createSchemaBuilder().log();
    expect(sql.upQueries).toEqual([]);
  });
});
