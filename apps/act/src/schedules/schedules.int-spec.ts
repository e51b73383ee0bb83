import type { INestApplication } from '@nestjs/common';
import { bootstrapService, CLOCK, loadConfig, RpcClient, type Clock, type NatsBus } from '@hms/platform';
import { connectTestBus, freshTestEnvironment, newActorKey, serviceNatsEnv } from '@hms/testing';
import { Client } from 'pg';
import { ActConfig } from '../act.config';
import { RequestsService } from '../requests/requests.service';
import { createActModule } from '../act.module';
import { EventCollector, eventually, TEST_ACTOR } from '../testing/act-harness';
import { ScheduleRunner, SCHEDULER_ACTOR } from './schedule-runner';

jest.setTimeout(60_000);

/** A test's database and prefix, and the actor key its ACT replicas and callers share. */
type Env = Awaited<ReturnType<typeof freshTestEnvironment>> & { actorKey: string };

/** One ACT replica (as ACT's NATS user) on a shared database and subject prefix, optionally on a fake clock. */
async function startReplica(env: Env, settings: Record<string, string>, clock?: Clock): Promise<INestApplication> {
  const config = loadConfig(ActConfig, {
    DATABASE_URL: env.databaseUrl,
    NATS_URL: env.natsUrl,
    HMS_SUBJECT_PREFIX: env.subjectPrefix,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    ...serviceNatsEnv('act', env.actorKey),
    ...settings,
  });
  const module = createActModule(config);
  // A provider of the app module wins over the platform's global one.
  if (clock) module.providers = [...(module.providers ?? []), { provide: CLOCK, useValue: clock }];
  return bootstrapService(module, { port: 0 });
}

interface Shared {
  env: Env;
  apps: INestApplication[];
  /** Calls, as the gateway makes them. */
  bus: NatsBus;
  /** ACT's own user: reads ACT's events from the stream. */
  events: NatsBus;
  rpc: RpcClient;
  pg: Client;
}

async function shared(label: string): Promise<Shared> {
  const env = { ...(await freshTestEnvironment(label)), actorKey: newActorKey() };
  const bus = await connectTestBus(env.natsUrl, env.subjectPrefix, `test-${label}`, 'gateway', env.actorKey);
  const events = await connectTestBus(env.natsUrl, env.subjectPrefix, `test-${label}-events`, 'act', env.actorKey);
  const pg = new Client({ connectionString: env.databaseUrl });
  await pg.connect();
  return { env, apps: [], bus, events, rpc: new RpcClient(bus), pg };
}

async function dispose(s: Shared | undefined): Promise<void> {
  if (!s) return;
  for (const app of s.apps) await app.close();
  await s.pg.end();
  await s.bus.close();
  await s.events.close();
  await s.env.dispose();
}

const plan = (id: string, schedule?: Record<string, unknown>) => ({
  id,
  steps: [{ id: 'work', pool: 'schedule_test' }],
  ...(schedule ? { schedule } : {}),
});

describe('schedules, two replicas', () => {
  let s: Shared;

  beforeAll(async () => {
    s = await shared('act_sched_two');
    // One after the other: both would wait on the migration lock anyway.
    s.apps.push(await startReplica(s.env, { ACT_SCHEDULE_TICK_MS: '200' }));
    s.apps.push(await startReplica(s.env, { ACT_SCHEDULE_TICK_MS: '200' }));
  });

  afterAll(() => dispose(s));

  it('creates exactly one request per fire time of a per-second cron, none missing', async () => {
    const created = EventCollector.start(s.events, 'act.request.created');
    const registered = await s.rpc.call('act.plan.register', { definition: plan('every_second', { cron: '*/1 * * * * *', payload: { source: 'cron' } }) }, { actor: TEST_ACTOR });
    expect(registered).toEqual({ id: 'every_second', version: 1, created: true });
    const [{ created_at: registeredAt }] = (await s.pg.query(`SELECT "created_at" FROM "act"."plans" WHERE "id" = 'every_second'`)).rows as Array<{ created_at: Date }>;

    await new Promise((resolve) => setTimeout(resolve, 4_200));
    // Stop both schedulers (waiting for a tick in flight) before counting.
    for (const app of s.apps) await app.get(ScheduleRunner).stop();

    const fires = (await s.pg.query(`SELECT "fire_at", "request_id" FROM "act"."schedule_fires" WHERE "plan" = 'every_second' ORDER BY "fire_at"`)).rows as Array<{ fire_at: Date; request_id: string }>;
    const requests = (await s.pg.query(`SELECT "id", "reference", "payload", "created_by", "plan_version" FROM "act"."requests" WHERE "plan" = 'every_second'`)).rows as Array<{
      id: string;
      reference: string;
      payload: unknown;
      created_by: string;
      plan_version: number;
    }>;

    expect(fires.length).toBeGreaterThanOrEqual(3);
    // No duplicates: one request per distinct fire time, each the one its fire row names.
    expect(new Set(requests.map((r) => r.reference)).size).toBe(requests.length);
    expect(requests).toHaveLength(fires.length);
    expect(new Map(requests.map((r) => [r.reference, r.id]))).toEqual(new Map(fires.map((f) => [`schedule:every_second:${f.fire_at.toISOString()}`, f.request_id])));
    // None missing: every second from the first after registration to the last, in a row.
    const times = fires.map((f) => f.fire_at.getTime());
    expect(times[0]).toBe(Math.floor(registeredAt.getTime() / 1000) * 1000 + 1000);
    times.slice(1).forEach((t, i) => expect(t - times[i]).toBe(1000));
    for (const request of requests) {
      expect(request).toMatchObject({ payload: { source: 'cron' }, created_by: SCHEDULER_ACTOR, plan_version: 1 });
    }
    // Created through the outbox: each has its act.request.created event, once.
    await eventually(() => expect(created.events.filter((e) => e.data.plan === 'every_second')).toHaveLength(requests.length));
    expect(new Set(created.events.map((e) => e.requestId)).size).toBe(created.events.length);
    expect(created.events.every((e) => e.actor === SCHEDULER_ACTOR)).toBe(true);
    created.stop();
  });
});

describe('schedules, catch-up on a fake clock', () => {
  let s: Shared;
  let now = new Date('2026-03-01T10:30:00.000Z');
  const clock: Clock = { now: () => now };
  let runner: ScheduleRunner;

  beforeAll(async () => {
    s = await shared('act_sched_fake');
    // Tick 0: the runner does nothing on its own; the test ticks it.
    s.apps.push(await startReplica(s.env, { ACT_SCHEDULE_TICK_MS: '0' }, clock));
    runner = s.apps[0].get(ScheduleRunner);
  });

  afterAll(() => dispose(s));

  const references = async () =>
    ((await s.pg.query(`SELECT "reference" FROM "act"."requests" WHERE "plan" = 'hourly' ORDER BY "reference"`)).rows as Array<{ reference: string }>).map((r) => r.reference);

  it('starts at registration, runs each fire once, only the latest missed one after downtime, and stops with an unscheduled version', async () => {
    await s.rpc.call('act.plan.register', { definition: plan('hourly', { cron: '0 * * * *' }) }, { actor: TEST_ACTOR });
    // 10:00 was before registration: no back-fill.
    expect(await runner.tick()).toBe(0);

    now = new Date('2026-03-01T11:00:00.400Z');
    expect(await runner.tick()).toBe(1);
    expect(await runner.tick()).toBe(0);
    expect(await references()).toEqual(['schedule:hourly:2026-03-01T11:00:00.000Z']);

    // Down from 11:00 to 15:10: 12:00, 13:00, 14:00 and 15:00 were missed; only 15:00 runs.
    now = new Date('2026-03-01T15:10:00.000Z');
    expect(await runner.tick()).toBe(1);
    expect(await runner.tick()).toBe(0);
    expect(await references()).toEqual(['schedule:hourly:2026-03-01T11:00:00.000Z', 'schedule:hourly:2026-03-01T15:00:00.000Z']);

    // A version without a schedule stops it.
    now = new Date('2026-03-01T15:20:00.000Z');
    expect(await s.rpc.call('act.plan.register', { definition: plan('hourly') }, { actor: TEST_ACTOR })).toMatchObject({ version: 2 });
    now = new Date('2026-03-01T18:00:00.000Z');
    expect(await runner.tick()).toBe(0);

    // Scheduled again (v3) from its registration on: 18:00 is before it, 19:00 runs; nothing back-filled.
    now = new Date('2026-03-01T18:30:00.000Z');
    expect(await s.rpc.call('act.plan.register', { definition: plan('hourly', { cron: '0 * * * *', tz: 'America/New_York' }) }, { actor: TEST_ACTOR })).toMatchObject({ version: 3 });
    expect(await runner.tick()).toBe(0);
    now = new Date('2026-03-01T19:00:05.000Z');
    expect(await runner.tick()).toBe(1);
    const rows = (await s.pg.query(`SELECT "reference", "plan_version" FROM "act"."requests" WHERE "plan" = 'hourly' ORDER BY "reference"`)).rows;
    expect(rows).toEqual([
      { reference: 'schedule:hourly:2026-03-01T11:00:00.000Z', plan_version: 1 },
      { reference: 'schedule:hourly:2026-03-01T15:00:00.000Z', plan_version: 1 },
      { reference: 'schedule:hourly:2026-03-01T19:00:00.000Z', plan_version: 3 },
    ]);
  });

  it('creates nothing for a fire time another replica already claimed', async () => {
    const requests = s.apps[0].get(RequestsService);
    const fire = { plan: 'hourly', version: 3, fireAt: new Date('2026-03-01T21:00:00.000Z'), payload: {} };
    const [first, second] = await Promise.all([requests.createScheduled(fire, SCHEDULER_ACTOR), requests.createScheduled(fire, SCHEDULER_ACTOR)]);
    expect([first, second].filter((r) => r !== null)).toHaveLength(1);
    expect((await references()).filter((r) => r === 'schedule:hourly:2026-03-01T21:00:00.000Z')).toHaveLength(1);
  });
});
