import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Client, Pool } from 'pg';
import { EventStream, type Actor, type EventDataMap, type HmsEvent, type LeasedTask } from '@hms/contracts';
import { NatsBus, RpcClient } from '@hms/platform';
import { benchInfra, benchStack, cpuBreakdown, cpuSnapshot, formatNumber, percentile, printTable } from './bench-support';

/** OMS is called as a trusted service would, straight over NATS (not through the gateway). */
const ACTOR: Actor = { id: 'bench', roles: ['service'] };
/** graphile-worker's figures quoted in the issue (same kind of lease+complete workload). */
const GRAPHILE_QUOTED = { jobsPerSecond: 5000, pickupP99Ms: 6 };

export interface OmsBenchOptions {
  /** Pre-queued tasks per throughput run. */
  tasks: number;
  workers: number;
  pickupSamples: number;
  latencySamples: number;
  /** Queue depths of the lease-latency runs (small, large). */
  smallDepth: number;
  largeDepth: number;
  graphileJobs: number;
  graphileConcurrency: number;
  /** Which throughput runs (keys of THROUGHPUT_RUNS); all by default. */
  runs: string[];
}

/** The throughput runs; the targets are judged on `max10`. */
const THROUGHPUT_RUNS = {
  max1: { key: 'max 1', max: 1, batchComplete: false },
  max10: { key: 'max 10', max: 10, batchComplete: false },
  batch: { key: 'max 10, batch complete', max: 10, batchComplete: true },
} as const;
/** Tasks leased and completed, untimed, before the first measured run: the processes' JIT is warm for all runs alike. */
const WARMUP_TASKS = 1000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Seeds `count` queued tasks into a pool with INSERT … SELECT generate_series, every NOT NULL
 * column filled as TasksService.queueFromStep fills it (pool defaults: 3 attempts, 300 s lease,
 * the default backoff). available_at rises by 1 ms per task, so the queue has a FIFO order.
 * Returns the seconds it took.
 */
async function seedTasks(db: Client, pool: string, count: number, batch = 250_000): Promise<number> {
  const started = performance.now();
  const retry = JSON.stringify({ attempts: 3, backoffSeconds: 10, backoffFactor: 2, maxBackoffSeconds: 3600 });
  for (let from = 1; from <= count; from += batch) {
    const to = Math.min(count, from + batch - 1);
    await db.query(
      `INSERT INTO oms.tasks (id, request_id, step_id, pool, title, tags, priority, status, attempt, max_attempts, retry, payload,
                              lease_seconds, sla_due_at, pick_by, available_at, queued_at, created_at, updated_at)
       SELECT gen_random_uuid(), gen_random_uuid()::text, 'work', $1, 'bench task', '{}'::text[], 0, 'queued', 0, 3, $2::jsonb,
              jsonb_build_object('i', i), 300, NULL, at + interval '1 day', at, at, at, at
       FROM generate_series($3::int, $4::int) AS i,
            LATERAL (SELECT date_trunc('second', now()) - interval '2 hours' + i * interval '1 millisecond' AS at) AS t`,
      [pool, retry, from, to],
    );
  }
  await db.query('ANALYZE oms.tasks');
  return (performance.now() - started) / 1000;
}

async function createPool(rpc: RpcClient, pool: string): Promise<void> {
  await rpc.call('oms.pool.upsert', { pool, kind: 'bot' }, { actor: ACTOR });
}

async function lease(rpc: RpcClient, pool: string, worker: string, max: number, waitSeconds: number): Promise<LeasedTask[]> {
  const { tasks } = await rpc.call('oms.task.lease', { pool, worker, max, waitSeconds }, { actor: ACTOR, timeoutMs: (waitSeconds + 10) * 1000 });
  return tasks;
}

async function complete(rpc: RpcClient, task: LeasedTask): Promise<void> {
  await rpc.call('oms.task.complete', { taskId: task.id, leaseToken: task.leaseToken, output: { ok: true } }, { actor: ACTOR });
}

/** One `oms.task.complete-many` call for a whole lease batch; fails the run if any item failed. */
async function completeMany(rpc: RpcClient, tasks: LeasedTask[]): Promise<void> {
  const { results } = await rpc.call(
    'oms.task.complete-many',
    { items: tasks.map((task) => ({ taskId: task.id, leaseToken: task.leaseToken, output: { ok: true } })) },
    { actor: ACTOR },
  );
  const failed = results.find((result) => 'error' in result && result.error);
  if (failed) throw new Error(`batch complete failed for ${failed.id}: ${JSON.stringify(failed)}`);
}

/** `workers` loops of lease(max) then complete each (or the batch in one call), until `total` tasks are done. */
async function drainPool(
  rpc: RpcClient,
  pool: string,
  total: number,
  workers: number,
  max: number,
  batchComplete: boolean,
): Promise<{ completed: number; seconds: number }> {
  let leased = 0;
  let completed = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      while (leased < total) {
        const tasks = await lease(rpc, pool, `bench-${w}`, max, 0);
        if (tasks.length === 0) {
          await sleep(1); // the rest are being taken by the other workers (SKIP LOCKED)
          continue;
        }
        leased += tasks.length;
        if (batchComplete) await completeMany(rpc, tasks);
        else await Promise.all(tasks.map((task) => complete(rpc, task)));
        completed += tasks.length;
      }
    }),
  );
  return { completed, seconds: (performance.now() - started) / 1000 };
}

/**
 * Waits until the run's events have all been relayed and consumed: outboxes empty and every
 * JetStream consumer of the stream caught up (at most a minute).
 */
async function waitForQuiet(db: Client, bus: NatsBus): Promise<void> {
  const jsm = await bus.manager();
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const [{ queued }] = (await db.query(`SELECT (SELECT count(*) FROM oms.outbox) + (SELECT count(*) FROM act.outbox) + (SELECT count(*) FROM ops.outbox) AS queued`)).rows as Array<{ queued: string }>;
    let behind = 0;
    for await (const consumer of jsm.consumers.list(bus.streamName)) behind += consumer.num_pending + consumer.num_ack_pending;
    if (Number(queued) === 0 && behind === 0) return;
    await sleep(200);
  }
}

/** Publishes act.step.ready to JetStream as ACT's outbox relay does. */
async function publishStepReady(bus: NatsBus, pool: string, i: number): Promise<void> {
  const data: EventDataMap['act.step.ready'] = {
    stepId: 'work',
    pool,
    title: `pickup ${i}`,
    tags: [],
    priority: 0,
    payload: { i },
    leaseSeconds: null,
    slaMinutes: null,
    retry: null,
  };
  const event: HmsEvent<'act.step.ready'> = { id: randomUUID(), type: 'act.step.ready', at: new Date().toISOString(), actor: 'system:act', requestId: randomUUID(), source: 'act', data };
  await bus.jetstream.publish(bus.subject(EventStream.subjectOf(event.type)), JSON.stringify(event), { msgID: event.id });
}

/** Single-worker lease then complete, `samples` times after `warmup` unmeasured ones; milliseconds. */
async function leaseLatency(rpc: RpcClient, pool: string, samples: number, warmup = 20): Promise<{ lease: number[]; roundTrip: number[] }> {
  const leaseMs: number[] = [];
  const roundTrip: number[] = [];
  for (let i = 0; i < samples + warmup; i += 1) {
    const t0 = performance.now();
    const [task] = await lease(rpc, pool, 'bench-latency', 1, 0);
    const t1 = performance.now();
    if (!task) throw new Error(`pool ${pool} ran empty`);
    await complete(rpc, task);
    const t2 = performance.now();
    if (i >= warmup) {
      leaseMs.push(t1 - t0);
      roundTrip.push(t2 - t0);
    }
  }
  return { lease: leaseMs, roundTrip };
}

/** graphile-worker, loaded only when installed (it is not a dependency of the project). */
function loadGraphileWorker(): any | null {
  const name = 'graphile-worker';
  try {
    return require(name);
  } catch {
    return null;
  }
}

type BenchInfra = Awaited<ReturnType<typeof benchInfra>>;
type GraphileSkipped = { skipped: string };
const GRAPHILE_MISSING: GraphileSkipped = { skipped: 'graphile-worker reference not run: not installed (npm install -D graphile-worker@0.16.6)' };

/**
 * Runs `work` against graphile-worker on a fresh database of the same Postgres, migrated; the
 * database is dropped afterwards.
 */
async function withGraphile<T>(bench: BenchInfra, poolSize: number, work: (gw: any, pgPool: Pool, db: Client, logger: unknown) => Promise<T>): Promise<T | GraphileSkipped> {
  const gw = loadGraphileWorker();
  if (!gw) return GRAPHILE_MISSING;
  const database = await bench.freshDatabase('graphile');
  const db = new Client({ connectionString: database.url });
  // Our own pool, so it is surely closed before the database is dropped (a connection the
  // drop terminates would otherwise raise an unhandled error in this process).
  const pgPool = new Pool({ connectionString: database.url, max: poolSize });
  pgPool.on('error', () => undefined);
  try {
    const logger = new gw.Logger(() => () => undefined);
    await gw.runMigrations({ pgPool, logger });
    await db.connect();
    return await work(gw, pgPool, db, logger);
  } finally {
    await db.end().catch(() => undefined);
    await pgPool.end().catch(() => undefined);
    await database.drop();
  }
}

/**
 * The throughput reference: `jobs` pre-queued jobs run to completion by graphile-worker
 * in-process (concurrency `concurrency`, no-op task).
 */
function graphileThroughput(bench: BenchInfra, jobs: number, concurrency: number) {
  return withGraphile(bench, concurrency + 2, async (gw, pgPool, db, logger) => {
    await db.query(`SELECT graphile_worker.add_job('bench', json_build_object('i', i)) FROM generate_series(1, $1::int) AS i`, [jobs]);
    let done = 0;
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const cpuBefore = cpuSnapshot();
    const started = performance.now();
    const runner = await gw.run({
      pgPool,
      concurrency,
      noHandleSignals: true,
      pollInterval: 1000,
      logger,
      taskList: {
        bench: async () => {
          done += 1;
          if (done === jobs) finish();
        },
      },
    });
    await finished;
    // The last completions are batched; wait until the table is empty so the figure is whole jobs.
    for (;;) {
      const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM graphile_worker.jobs');
      if (Number(rows[0].n) === 0) break;
      await sleep(2);
    }
    const seconds = (performance.now() - started) / 1000;
    const cpu = cpuBreakdown(cpuBefore, cpuSnapshot(), jobs);
    await runner.stop();
    return { jobsPerSecond: jobs / seconds, seconds, cpu };
  });
}

/**
 * The pickup reference, measured like ours: one idle graphile-worker (concurrency 1, woken by
 * LISTEN/NOTIFY; its poll interval is set to 10 s so only the notification can wake it) and
 * jobs added one at a time with `add_job`; from sending `add_job` to the task function being
 * called, `samples` times after 10 warm-ups. Milliseconds.
 */
function graphilePickup(bench: BenchInfra, samples: number) {
  return withGraphile(bench, 3, async (gw, pgPool, db, logger) => {
    let picked: ((at: number) => void) | undefined;
    const runner = await gw.run({
      pgPool,
      concurrency: 1,
      noHandleSignals: true,
      pollInterval: 10_000,
      logger,
      taskList: { bench: async () => picked?.(performance.now()) },
    });
    try {
      await sleep(200); // let the worker LISTEN and go idle
      const pickup: number[] = [];
      for (let i = 0; i < samples + 10; i += 1) {
        const pickedAt = new Promise<number>((resolve) => (picked = resolve));
        await sleep(25); // as in our run: the worker is idle when the job arrives
        const t0 = performance.now();
        await db.query(`SELECT graphile_worker.add_job('bench', json_build_object('i', $1::int))`, [i]);
        const at = await Promise.race([pickedAt, sleep(10_000).then(() => Number.NaN)]);
        if (Number.isNaN(at)) throw new Error('graphile-worker picked up no job within 10 s');
        if (i >= 10) pickup.push(at - t0);
      }
      return { pickup };
    } finally {
      await runner.stop();
    }
  });
}

const ms = (value: number) => formatNumber(value);

/**
 * OMS allocation: lease+complete throughput, pickup latency of a long-polling worker, lease
 * latency against queue depth — with the four services as processes (ACT and OPS consume OMS's
 * events as in production) and OMS called over NATS directly.
 */
export async function omsBench(options: OmsBenchOptions): Promise<void> {
  const benchStarted = performance.now();
  const bench = await benchInfra();
  const { stack, databaseUrl, stop } = await benchStack(bench, 'oms');
  const bus = await NatsBus.connect(bench.infra.natsUrl, stack.subjectPrefix, 'oms-bench');
  const rpc = new RpcClient(bus);
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    // 1. Throughput.
    const throughput: Array<Array<string | number>> = [];
    const unknownRun = options.runs.find((name) => !(name in THROUGHPUT_RUNS));
    if (unknownRun) throw new Error(`unknown run '${unknownRun}'; choose from: ${Object.keys(THROUGHPUT_RUNS).join(', ')}`);
    const runs = options.runs.map((name) => THROUGHPUT_RUNS[name as keyof typeof THROUGHPUT_RUNS]);
    await createPool(rpc, 'bench-warmup');
    await seedTasks(db, 'bench-warmup', WARMUP_TASKS);
    await drainPool(rpc, 'bench-warmup', WARMUP_TASKS, options.workers, 10, false);
    await waitForQuiet(db, bus);
    const perSecond: Record<string, number> = {};
    const cpu: Record<string, Array<[string, number]>> = {};
    for (const [i, run] of runs.entries()) {
      const pool = `bench-throughput-${i}`;
      await createPool(rpc, pool);
      const seeded = await seedTasks(db, pool, options.tasks);
      const cpuBefore = cpuSnapshot();
      const { completed, seconds } = await drainPool(rpc, pool, options.tasks, options.workers, run.max, run.batchComplete);
      // The events of the run are still being consumed (ledger, OPS); count their CPU too.
      await waitForQuiet(db, bus);
      cpu[run.key] = cpuBreakdown(cpuBefore, cpuSnapshot(), completed);
      perSecond[run.key] = completed / seconds;
      const how = run.batchComplete ? ', one complete-many per lease' : '';
      throughput.push([`OMS over NATS, ${options.workers} workers, max ${run.max}${how}`, completed, formatNumber(seconds), perSecond[run.key]!, formatNumber(seeded)]);
    }

    // 4. (run here, on the same Postgres, so the rows sit together) graphile-worker.
    const graphile = await graphileThroughput(bench, options.graphileJobs, options.graphileConcurrency);
    const graphileCpu = 'skipped' in graphile ? [] : graphile.cpu;
    if ('skipped' in graphile) {
      throughput.push([graphile.skipped, '-', '-', '-', '-']);
    } else {
      throughput.push([`graphile-worker 0.16 in-process, concurrency ${options.graphileConcurrency}`, options.graphileJobs, formatNumber(graphile.seconds), graphile.jobsPerSecond, '-']);
    }
    printTable(
      `1. lease+complete throughput (${options.tasks.toLocaleString('en-US')} pre-queued tasks per run)`,
      ['what', 'tasks', 'seconds', 'tasks/s', 'seed s'],
      throughput,
    );
    const reference = 'skipped' in graphile ? undefined : graphile.jobsPerSecond;
    printTable('1b. OMS against the graphile-worker reference', ['OMS run', 'tasks/s', 'measured graphile-worker', 'ratio (OMS/graphile measured)', 'ratio to quoted ≈5,000/s'], [
      ...runs.map(({ key }) => [
        key,
        perSecond[key]!,
        reference === undefined ? 'not run: not installed' : formatNumber(reference),
        reference === undefined ? 'n/a' : `${formatNumber(perSecond[key]! / reference)}×`,
        `${formatNumber(perSecond[key]! / GRAPHILE_QUOTED.jobsPerSecond)}×`,
      ]),
    ]);
    const labels = [...new Set([...runs.flatMap(({ key }) => cpu[key]!), ...graphileCpu].map(([label]) => label))];
    const column = (rows: Array<[string, number]>, label: string) => rows.find(([l]) => l === label)?.[1] ?? 0;
    const total = (rows: Array<[string, number]>) => rows.reduce((sum, [, seconds]) => sum + seconds, 0);
    if (labels.length > 0) {
      printTable(
        '1c. CPU seconds per 1,000 tasks, by process (from /proc; OMS runs include consuming their events)',
        ['process', ...runs.map(({ key }) => `OMS ${key}`), 'graphile-worker'],
        [
          ...labels.map((label) => [label, ...runs.map(({ key }) => formatNumber(column(cpu[key]!, label))), formatNumber(column(graphileCpu, label))]),
          ['total', ...runs.map(({ key }) => formatNumber(total(cpu[key]!))), formatNumber(total(graphileCpu))],
        ],
      );
    }

    // 2. Pickup latency: an idle long-polling worker, tasks queued one at a time.
    const pickupPool = 'bench-pickup';
    await createPool(rpc, pickupPool);
    const pickup: number[] = [];
    const publishToQueued: number[] = [];
    const queuedToReturned: number[] = [];
    const marks: Array<{ id: string; publishedWall: number; returnedWall: number }> = [];
    for (let i = 0; i < options.pickupSamples + 10; i += 1) {
      const leasing = lease(rpc, pickupPool, 'bench-idle', 1, 10).then((tasks) => ({ tasks, at: performance.now(), wall: Date.now() }));
      await sleep(25); // let the lease call park in OMS's long poll
      const publishedWall = Date.now();
      const t0 = performance.now();
      await publishStepReady(bus, pickupPool, i);
      const { tasks, at, wall } = await leasing;
      if (tasks.length !== 1) throw new Error('the long-polling worker got no task within 10 s');
      await complete(rpc, tasks[0]);
      if (i >= 10) {
        pickup.push(at - t0);
        marks.push({ id: tasks[0].id, publishedWall, returnedWall: wall });
      }
    }
    const { rows } = await db.query<{ id: string; queued_at: Date }>('SELECT id, queued_at FROM oms.tasks WHERE id = ANY($1::uuid[])', [marks.map((m) => m.id)]);
    const queuedAt = new Map(rows.map((row) => [row.id, row.queued_at.getTime()]));
    for (const mark of marks) {
      const queued = queuedAt.get(mark.id);
      if (queued === undefined) continue;
      publishToQueued.push(queued - mark.publishedWall);
      queuedToReturned.push(mark.returnedWall - queued);
    }
    const graphilePicked = await graphilePickup(bench, options.pickupSamples);
    const graphilePickupRow =
      'skipped' in graphilePicked
        ? [graphilePicked.skipped, '-', '-', '-']
        : ['graphile-worker 0.16, idle worker (LISTEN/NOTIFY): add_job sent → task function called', ms(percentile(graphilePicked.pickup, 0.5)), ms(percentile(graphilePicked.pickup, 0.99)), ms(Math.max(...graphilePicked.pickup))];
    printTable(`2. pickup latency, idle long-polling worker (waitSeconds 10), ${pickup.length} tasks queued one at a time`, ['span', 'p50 ms', 'p99 ms', 'max ms'], [
      ['publish act.step.ready → lease call returns the task', ms(percentile(pickup, 0.5)), ms(percentile(pickup, 0.99)), ms(Math.max(...pickup))],
      ['  of which publish → OMS queued_at (JetStream to OMS, until it queues; ms clock)', ms(percentile(publishToQueued, 0.5)), ms(percentile(publishToQueued, 0.99)), ms(Math.max(...publishToQueued))],
      ['  of which OMS queued_at → lease returned (queued and leased to the parked call in one statement, then the reply; ms clock)', ms(percentile(queuedToReturned, 0.5)), ms(percentile(queuedToReturned, 0.99)), ms(Math.max(...queuedToReturned))],
      graphilePickupRow,
    ]);
    const graphilePickupP99 = 'skipped' in graphilePicked ? undefined : percentile(graphilePicked.pickup, 0.99);

    // 3. Lease latency against queue depth. Both pools are seeded first (one table, as in
    // production), vacuumed once, then sampled alternately, so background load (autovacuum,
    // other processes on the machine) falls on both depths alike.
    const latencyRows: Array<Array<string | number>> = [];
    const depths = [options.smallDepth, options.largeDepth];
    const seedSeconds: number[] = [];
    for (const depth of depths) {
      await createPool(rpc, `bench-depth-${depth}`);
      seedSeconds.push(await seedTasks(db, `bench-depth-${depth}`, depth));
    }
    await db.query('VACUUM ANALYZE oms.tasks');
    const byDepth = depths.map((depth) => ({ depth, lease: [] as number[], roundTrip: [] as number[] }));
    for (let i = 0; i < options.latencySamples + 20; i += 1) {
      for (const entry of i % 2 === 0 ? byDepth : [...byDepth].reverse()) {
        const sample = await leaseLatency(rpc, `bench-depth-${entry.depth}`, i < 20 ? 0 : 1, i < 20 ? 1 : 0);
        entry.lease.push(...sample.lease);
        entry.roundTrip.push(...sample.roundTrip);
      }
    }
    byDepth.forEach((result, index) => {
      latencyRows.push([
        result.depth.toLocaleString('en-US'),
        formatNumber(seedSeconds[index]),
        ms(percentile(result.lease, 0.5)),
        ms(percentile(result.lease, 0.99)),
        ms(percentile(result.roundTrip, 0.5)),
        ms(percentile(result.roundTrip, 0.99)),
      ]);
    });
    const [small, large] = byDepth;
    const ratio = (pick: (r: (typeof byDepth)[number]) => number[], q: number) => `${formatNumber(percentile(pick(large), q) / percentile(pick(small), q))}×`;
    latencyRows.push([
      `ratio ${large.depth.toLocaleString('en-US')} / ${small.depth.toLocaleString('en-US')}`,
      '-',
      ratio((r) => r.lease, 0.5),
      ratio((r) => r.lease, 0.99),
      ratio((r) => r.roundTrip, 0.5),
      ratio((r) => r.roundTrip, 0.99),
    ]);
    printTable(`3. lease latency, 1 worker, max 1, ${options.latencySamples} samples per depth (depths sampled alternately)`, ['queued in pool', 'seed s', 'lease p50 ms', 'lease p99 ms', 'lease+complete p50 ms', 'lease+complete p99 ms'], latencyRows);

    const depthRatio = (pick: (r: (typeof byDepth)[number]) => number[], q: number) => percentile(pick(large), q) / percentile(pick(small), q);
    const yes = (met: boolean) => (met ? 'yes' : 'no');
    const depthLabel = `${large.depth.toLocaleString('en-US')}/${small.depth.toLocaleString('en-US')}`;
    const max10 = perSecond[THROUGHPUT_RUNS.max10.key];
    const throughputTargets =
      max10 === undefined
        ? [['throughput at max 10 ≥ graphile-worker', `not measured (--runs ${options.runs.join(',')})`, 'n/a']]
        : [
            [`throughput at max 10 ≥ graphile-worker's ≈${GRAPHILE_QUOTED.jobsPerSecond.toLocaleString('en-US')} jobs/s (quoted)`, `${formatNumber(max10)} tasks/s`, yes(max10 >= GRAPHILE_QUOTED.jobsPerSecond)],
            [
              'throughput at max 10 ≥ graphile-worker measured here',
              reference === undefined ? 'graphile-worker reference not run: not installed' : `${formatNumber(max10)} vs ${formatNumber(reference)} jobs/s`,
              reference === undefined ? 'n/a' : yes(max10 >= reference),
            ],
          ];
    const pickupP99 = percentile(pickup, 0.99);
    printTable('Targets (issue)', ['target', 'measured', 'met'], [
      ...throughputTargets,
      [`p99 pickup ≤ graphile-worker's ≈${GRAPHILE_QUOTED.pickupP99Ms} ms (quoted)`, `${ms(pickupP99)} ms`, yes(pickupP99 <= GRAPHILE_QUOTED.pickupP99Ms)],
      [
        'p99 pickup ≤ graphile-worker measured here',
        graphilePickupP99 === undefined ? 'graphile-worker reference not run: not installed' : `${ms(pickupP99)} vs ${ms(graphilePickupP99)} ms`,
        graphilePickupP99 === undefined ? 'n/a' : yes(pickupP99 <= graphilePickupP99),
      ],
      [`lease+complete latency ${depthLabel} < 1.5, p50`, `${formatNumber(depthRatio((r) => r.roundTrip, 0.5))}×`, yes(depthRatio((r) => r.roundTrip, 0.5) < 1.5)],
      [`lease+complete latency ${depthLabel} < 1.5, p99`, `${formatNumber(depthRatio((r) => r.roundTrip, 0.99))}×`, yes(depthRatio((r) => r.roundTrip, 0.99) < 1.5)],
      [`lease call alone ${depthLabel} < 1.5, p50 / p99`, `${formatNumber(depthRatio((r) => r.lease, 0.5))}× / ${formatNumber(depthRatio((r) => r.lease, 0.99))}×`, yes(depthRatio((r) => r.lease, 0.99) < 1.5)],
    ]);
    process.stdout.write(`\nbench wall time: ${formatNumber((performance.now() - benchStarted) / 1000)} s\n`);
  } finally {
    await db.end().catch(() => undefined);
    await bus.close();
    await stop();
    await bench.stop();
  }
}
