import { GenericPlanPool } from '@hms/platform';
import { Client } from 'pg';
import { ACQUIRE_SQL } from '../leases/lease-acquire.sql';
import { COMPLETE_MANY_SQL } from '../leases/lease-complete.sql';
import { QUEUE_LONE_STEP_SQL, QUEUE_STEPS_AT_ONCE_SQL } from '../tasks/queue-task.sql';
import { OmsHarness } from '../testing/oms-harness';

jest.setTimeout(120_000);

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

function nodesOf(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodesOf)];
}

/** How each table is read or written in one plan: "tasks: Index Scan tasks_lease_idx", … */
function accessesOf(plan: PlanNode): string[] {
  return nodesOf(plan)
    .filter((node) => node['Relation Name'] !== undefined)
    .map((node) => `${node['Relation Name']}: ${node['Node Type']}${node['Index Name'] ? ` ${node['Index Name']}` : ''}`);
}

/**
 * The statements OMS runs on its GenericPlanPool keep one plan per connection, made for no
 * particular arguments. That plan must read the same rows the same way as a plan made for the
 * arguments would: by key, or walking the lease index from its top. Checked on an empty table
 * (where a generic plan made at start-up would otherwise stay) and on a deep queue.
 */
describe('statements on generic plans', () => {
  let oms: OmsHarness;
  let client: Client;

  const statements = { acquire: ACQUIRE_SQL, complete: COMPLETE_MANY_SQL, queue_lone_step: QUEUE_LONE_STEP_SQL, queue_steps_at_once: QUEUE_STEPS_AT_ONCE_SQL };

  beforeAll(async () => {
    oms = await OmsHarness.start('oms_generic_plans');
    client = new Client({ connectionString: oms.env.DATABASE_URL, options: '-c plan_cache_mode=force_generic_plan' });
    await client.connect();
  });

  afterAll(async () => {
    await client?.end();
    await oms?.close();
  });

  /** How the generic plan of each statement (prepared afresh) reads and writes each table. */
  async function genericPlans(): Promise<Record<keyof typeof statements, string[]>> {
    const plans = {} as Record<keyof typeof statements, string[]>;
    for (const [name, sql] of Object.entries(statements) as Array<[keyof typeof statements, string]>) {
      await client.query(`DEALLOCATE ALL`);
      await client.query(`PREPARE ${name} AS ${sql}`);
      const [{ parameter_types: types }] = (await client.query(`SELECT parameter_types::text[] AS parameter_types FROM pg_prepared_statements WHERE name = $1`, [name]))
        .rows as Array<{ parameter_types: string[] }>;
      // A generic plan does not depend on the values; NULLs of the right types stand for any.
      const args = types.map((type) => `NULL::${type}`).join(', ');
      const [row] = (await client.query(`EXPLAIN (FORMAT JSON, VERBOSE) EXECUTE ${name}(${args})`)).rows as Array<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>;
      const plan = row!['QUERY PLAN'][0]!.Plan;
      // A plan made for these NULLs would have folded them in; a generic one keeps the parameters.
      expect(JSON.stringify(plan)).toMatch(/\$\d+/);
      plans[name] = accessesOf(plan);
    }
    return plans;
  }

  function expectKeyedAccess(plans: Record<keyof typeof statements, string[]>, tasksLeased: 'none' | 'many'): void {
    for (const accesses of Object.values(plans)) {
      for (const access of accesses) {
        if (access.startsWith('pools:')) continue; // a handful of rows; read by name either way
        expect(access).not.toMatch(/Seq Scan|Bitmap/);
      }
    }
    expect(plans.acquire).toContain('tasks: Index Scan tasks_lease_idx');
    expect(plans.acquire).toContain('tasks: Index Scan tasks_pkey');
    // With no task leased, reading the (empty) index of leased tasks is as good as the key.
    const completeReads = tasksLeased === 'none' ? ['tasks: Index Scan tasks_worker_leased_idx', 'tasks: Index Scan tasks_pkey'] : ['tasks: Index Scan tasks_pkey', 'tasks: Index Scan tasks_pkey'];
    expect(plans.complete.filter((access) => access.startsWith('tasks: Index'))).toEqual(completeReads);
    expect(plans.complete).toContain('workers: Index Scan workers_pkey');
  }

  it('runs them on connections that keep generic plans', async () => {
    const pool = oms.replicas[0]!.get(GenericPlanPool);
    const [row] = await pool.run<{ mode: string }>('test_plan_cache_mode', 'SELECT current_setting($1) AS mode', ['plan_cache_mode']);
    expect(row!.mode).toBe('force_generic_plan');
  });

  it('reads by key and walks the lease index on an empty table', async () => {
    const [{ count }] = await oms.sql<{ count: string }>('SELECT count(*) FROM oms.tasks');
    expect(count).toBe('0');
    expectKeyedAccess(await genericPlans(), 'none');
  });

  it('reads by key and walks the lease index with a deep queue, many tasks leased', async () => {
    await oms.sql(
      `INSERT INTO oms.tasks (id, request_id, step_id, pool, title, tags, priority, status, attempt, max_attempts, retry, payload,
                             lease_seconds, sla_due_at, pick_by, available_at, queued_at, created_at, updated_at)
       SELECT gen_random_uuid(), gen_random_uuid()::text, 'work', 'deep', 'task', '{}'::text[], i % 3, 'queued', 0, 3, '{}'::jsonb,
              '{}'::jsonb, 300, NULL, now() + interval '1 day', now(), now(), now(), now()
       FROM generate_series(1, 100000) AS i`,
    );
    // Leased ones too, so that no index on leased tasks looks small.
    await oms.sql(
      `UPDATE oms.tasks SET status = 'leased', attempt = 1, worker = 'w' || (random() * 100)::int, lease_token = md5(id::text),
                            lease_id = gen_random_uuid(), lease_expires_at = now() + interval '5 minutes'
       WHERE id IN (SELECT id FROM oms.tasks WHERE pool = 'deep' LIMIT 30000)`,
    );
    await oms.sql('ANALYZE oms.tasks');
    expectKeyedAccess(await genericPlans(), 'many');
  });
});
