import type { INestApplication } from '@nestjs/common';
import { bootstrapService, createDataSource, loadConfig, PROCESSED_EVENTS_DELETE_CHUNK, PROCESSED_EVENTS_RETENTION_SECONDS, runMigrations } from '@hms/platform';
import { freshTestEnvironment, serviceNatsEnv, newActorKey } from '@hms/testing';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { OPS_ENTITIES } from '../database/entities';
import { OPS_MIGRATIONS } from '../database/migrations';
import { createOpsModule } from '../ops.module';
import { OpsConfig } from '../ops.config';
import { OutcomeRetention } from './outcome-retention';

jest.setTimeout(60_000);

const DAY_MS = 24 * 3600 * 1000;
const RETENTION_MS = PROCESSED_EVENTS_RETENTION_SECONDS * 1000;

describe(OutcomeRetention.name, () => {
  let env: Awaited<ReturnType<typeof freshTestEnvironment>>;
  let dataSource: DataSource;
  let db: Client;
  let ops: INestApplication | undefined;

  /** `count` outcome rows of `pool`, the n-th at `newest` minus n seconds. */
  const seed = (pool: string, count: number, newest: Date) =>
    db.query(
      `INSERT INTO "ops"."task_outcomes" ("event_id", "pool", "outcome", "at", "wait_seconds", "worker")
       SELECT gen_random_uuid(), $1, 'completed', $3::timestamptz - i * interval '1 second', NULL, 'w1' FROM generate_series(1, $2::int) AS i`,
      [pool, count, newest],
    );
  const countOf = async (pool: string) => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM "ops"."task_outcomes" WHERE "pool" = $1`, [pool])).rows[0]!.n;

  beforeAll(async () => {
    env = await freshTestEnvironment('ops_outcome_retention');
    // OPS's schema without OPS running, so rows can be in place before its first sweep.
    dataSource = createDataSource({ url: env.databaseUrl, schema: 'ops', entities: OPS_ENTITIES, migrations: OPS_MIGRATIONS });
    await dataSource.initialize();
    await runMigrations(dataSource, 'ops');
    db = new Client({ connectionString: env.databaseUrl });
    await db.connect();
  });

  afterAll(async () => {
    await ops?.close();
    await db?.end();
    await dataSource?.destroy();
    await env?.dispose();
  });

  it('deletes the outcomes older than the claim retention, a chunk at a time, pool by pool, and keeps the rest', async () => {
    const now = new Date();
    const retention = new OutcomeRetention(dataSource, { now: () => now });
    const expired = new Date(now.getTime() - RETENTION_MS - 60_000);
    const kept = new Date(now.getTime() - RETENTION_MS + 3600_000);
    await seed('retention-a', 3000, expired);
    await seed('retention-b', 2007, expired);
    await seed('retention-a', 40, kept);
    await seed('retention-c', 5, kept);

    expect(await retention.sweep()).toBe(PROCESSED_EVENTS_DELETE_CHUNK);
    expect(await retention.sweep()).toBe(3000 + 2007 - PROCESSED_EVENTS_DELETE_CHUNK);
    expect(await retention.sweep()).toBe(0);
    expect([await countOf('retention-a'), await countOf('retention-b'), await countOf('retention-c')]).toEqual([40, 0, 5]);
  });

  it('runs in OPS: a starting replica prunes what has expired', async () => {
    const now = Date.now();
    await seed('retention-live', 3, new Date(now - RETENTION_MS - 60_000));
    await seed('retention-live', 2, new Date(now - DAY_MS));
    const config = loadConfig(OpsConfig, { DATABASE_URL: env.databaseUrl, NATS_URL: env.natsUrl, HMS_SUBJECT_PREFIX: env.subjectPrefix, LOG_LEVEL: 'warn', PORT: '0', ...serviceNatsEnv('ops', newActorKey()) });
    ops = await bootstrapService(createOpsModule(config), { port: 0 });
    const deadline = Date.now() + 10_000;
    while ((await countOf('retention-live')) !== 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await countOf('retention-live')).toBe(2);
  });
});
