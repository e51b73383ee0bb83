import { Cron } from 'croner';
import type { RequestSummary } from '@hms/contracts';
import { HmsClient } from '@hms/client';
import { freePort, ServiceProcess } from '@hms/testing';
import { startE2eStack } from './support/e2e-stack';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const PLAN = 'every_ten_seconds_ping';
const FIRES = 3;
/** Six fields, seconds first (docs/plans.md): three fire times in half a minute rather than three minutes. */
const CRON = '*/10 * * * * *';
const PERIOD_MS = 10_000;

/**
 * Schedules with two ACT replicas: both run the scheduler, and each fire time must still create
 * exactly one request. The plan fires every ten seconds; after three fire times have passed
 * since its registration there must be exactly one request per fire time, each with its own
 * `schedule:<plan>:<fire time>` reference. Fire times are those strictly after the registration
 * (docs/plans.md "Schedules": no back-fill, the first fire is the first cron time after it).
 */
describe('Scheduled requests with two ACT replicas', () => {
  let env: Awaited<ReturnType<typeof startE2eStack>>;
  let secondAct: ServiceProcess | undefined;

  beforeAll(async () => {
    env = await startE2eStack('e2e_act_schedule');
    secondAct = new ServiceProcess('act', await freePort(), env.serviceEnv('act'));
    await secondAct.start();
  });

  afterAll(async () => {
    await secondAct?.stop();
    await env?.dispose();
  });

  it('creates exactly one request per fire time after registration, across replicas', async () => {
    const { manager, stack } = env;
    expect(stack.services.act.running).toBe(true);
    expect(secondAct?.running).toBe(true);

    // Register a second or more after a fire time and before the next (ms 1,000..4,000 of the
    // period), so no fire time is a hair's breadth from the registration and the number of fire
    // times below is not at the mercy of a clock edge.
    for (;;) {
      const into = Date.now() % PERIOD_MS;
      if (into >= 1_000 && into <= 4_000) break;
      await sleep((into < 1_000 ? 1_000 - into : PERIOD_MS + 1_000 - into) + 50);
    }
    const registered = await manager.plans.register({
      id: PLAN,
      title: 'Ping every ten seconds',
      schedule: { cron: CRON, payload: { ping: true } },
      steps: [{ id: 'ping', pool: 'ping_bots' }],
    });
    expect(registered).toMatchObject({ id: PLAN, version: 1, created: true });
    const registeredAt = new Date((await manager.plans.get(PLAN)).createdAt);

    // Wait until FIRES fire times have passed since the registration, plus 4 s for the ticks
    // (every second), which is still before the next fire time.
    const lastFire = Math.floor(registeredAt.getTime() / PERIOD_MS) * PERIOD_MS + FIRES * PERIOD_MS;
    await sleep(Math.max(0, lastFire + 4_000 - Date.now()));
    const now = new Date();

    // Every fire time strictly after the registration, up to now, as the scheduler sees it.
    const cron = new Cron(CRON, { paused: true, timezone: 'UTC' });
    const expected: string[] = [];
    for (let next = cron.nextRun(registeredAt); next && next.getTime() <= now.getTime(); next = cron.nextRun(next)) {
      expected.push(`schedule:${PLAN}:${next.toISOString()}`);
    }
    expect(expected).toHaveLength(FIRES);

    const requests: RequestSummary[] = [];
    let cursor: string | undefined;
    do {
      const page = await manager.requests.list({ plan: PLAN, limit: 2, cursor });
      requests.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    const scheduled = requests.filter((r) => r.reference?.startsWith(`schedule:${PLAN}:`));
    expect(scheduled).toHaveLength(requests.length);
    const references = scheduled.map((r) => r.reference!);
    expect(new Set(references).size).toBe(references.length);
    expect(references.sort()).toEqual(expected);
    expect(scheduled.every((r) => r.version === 1 && r.status === 'running')).toBe(true);

    const one = await manager.requests.get(scheduled[0].id);
    expect(one).toMatchObject({ payload: { ping: true }, createdBy: 'system:act-scheduler' });
    expect(one.steps.map((s) => [s.stepId, s.status])).toEqual([['ping', 'ready']]);

    // And the scheduled jobs run to completion like any other request.
    const bot = new HmsClient({ baseUrl: env.stack.gatewayUrl, token: await env.stack.workerToken(['ping_bots'], 'ping-bot') });
    let completed = 0;
    while (completed < FIRES) {
      const { tasks } = await bot.tasks.lease('ping_bots', { worker: 'ping-bot', max: FIRES, waitSeconds: 5 });
      for (const task of tasks) await bot.tasks.complete(task.id, task.leaseToken, { pinged: true });
      completed += tasks.length;
    }
    const finished = await Promise.all(scheduled.map((r) => manager.requests.waitFor(r.id, { timeoutMs: 30_000, intervalMs: 200 })));
    expect(finished.map((r) => r.status)).toEqual(scheduled.map(() => 'completed'));
  }, 300_000);
});
