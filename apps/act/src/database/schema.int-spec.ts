import { createDataSource, runMigrations } from '@hms/platform';
import { freshTestEnvironment } from '@hms/testing';
import type { DataSource } from 'typeorm';
import { ACT_ENTITIES } from './entities';
import { ACT_MIGRATIONS } from './migrations';

// Booting the service and waiting for consumers takes seconds on a busy CI machine.
jest.setTimeout(30_000);

describe('ACT schema', () => {
  let env: Awaited<ReturnType<typeof freshTestEnvironment>>;
  let dataSource: DataSource;

  beforeAll(async () => {
    env = await freshTestEnvironment('act_schema');
    dataSource = createDataSource({ url: env.databaseUrl, schema: 'act', entities: ACT_ENTITIES, migrations: ACT_MIGRATIONS });
    await dataSource.initialize();
    await runMigrations(dataSource, 'act');
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await env?.dispose();
  });

  const pendingChanges = async () => (await dataSource.driver.createSchemaBuilder().log()).upQueries.map((q) => q.query);

  it('matches the entities after the migrations (no drift)', async () => {
    expect(await pendingChanges()).toEqual([]);
  });

  it('has the tables of ACT and the event tables', async () => {
    const rows: Array<{ table_name: string }> = await dataSource.query(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'act' ORDER BY table_name`,
    );
    expect(rows.map((r) => r.table_name)).toEqual(['fan_out_items', 'fan_outs', 'ledger_entries', 'ledger_heads', 'migrations', 'outbox', 'parked_events', 'plans', 'processed_events', 'request_steps', 'requests', 'schedule_fires']);
  });

  it('names every index and constraint itself', async () => {
    // TypeORM's own bookkeeping table (act.migrations) is not ours to name.
    const names: Array<{ name: string }> = await dataSource.query(`
      SELECT conname AS name FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
        WHERE n.nspname = 'act' AND c.contype <> 'n' AND c.conrelid <> 'act.migrations'::regclass
      UNION SELECT indexname FROM pg_indexes WHERE schemaname = 'act' AND tablename <> 'migrations'`);
    const generated = names.map((n) => n.name).filter((name) => /^(PK|FK|UQ|IDX|REL|CHK)_[0-9a-f]+$/.test(name));
    expect(generated).toEqual([]);
    expect(names.map((n) => n.name)).toEqual(
      expect.arrayContaining([
        'plans_pkey',
        'requests_pkey',
        'requests_created_by_idempotency_key_key',
        'requests_status_check',
        'requests_created_at_id_idx',
        'requests_sla_due_idx',
        'request_steps_pkey',
        'request_steps_request_id_fkey',
        'ledger_entries_pkey',
        'ledger_entries_event_id_key',
        'schedule_fires_pkey',
      ]),
    );
  });

  it('makes the ledger append-only with a trigger', async () => {
    const triggers: Array<{ tgname: string }> = await dataSource.query(
      `SELECT tgname FROM pg_trigger WHERE tgrelid = 'act.ledger_entries'::regclass AND NOT tgisinternal ORDER BY tgname`,
    );
    expect(triggers.map((t) => t.tgname)).toEqual(['ledger_entries_append_only', 'ledger_entries_no_truncate']);
  });

  it('flags the heads changed since the latest checkpoint when it moves the checkpoint index onto the flag', async () => {
    await dataSource.undoLastMigration({ transaction: 'each' });
    const [moved, checkpointed] = ['01a24f33-0000-7000-8000-000000000001', '01a24f33-0000-7000-8000-000000000002'];
    await dataSource.query(`INSERT INTO act.ledger_heads (request_id, entries, hash, checkpointed_entries) VALUES ($1, 5, 'a', 3), ($2, 4, 'b', 4)`, [moved, checkpointed]);
    await runMigrations(dataSource, 'act');
    const heads: Array<{ request_id: string; unchecked: boolean }> = await dataSource.query(`SELECT request_id, unchecked FROM act.ledger_heads ORDER BY request_id`);
    expect(heads).toEqual([
      { request_id: moved, unchecked: true },
      { request_id: checkpointed, unchecked: false },
    ]);
    const [index]: Array<{ indexdef: string }> = await dataSource.query(`SELECT indexdef FROM pg_indexes WHERE indexname = 'ledger_heads_unchecked_idx'`);
    expect(index.indexdef).toMatch(/WHERE unchecked$/);
    await dataSource.query(`DELETE FROM act.ledger_heads`);
  });

  it('migrates down to nothing and up again', async () => {
    for (let i = 0; i < ACT_MIGRATIONS.length; i++) await dataSource.undoLastMigration({ transaction: 'each' });
    const left: Array<{ table_name: string }> = await dataSource.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'act'`);
    expect(left.map((r) => r.table_name)).toEqual(['migrations']);
    await runMigrations(dataSource, 'act');
    expect(await pendingChanges()).toEqual([]);
  });
});
