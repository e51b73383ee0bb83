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
  /** Alternating pairs of the judged run (max 10) and the graphile-worker reference. */
  pairs: number;
}

/** The throughput runs; the targets are judged on `max10`. */
const THROUGHPUT_RUNS = {
  max1: { key: 'max 1', max: 1, batchComplete: false },
  max10: { key: 'max 10', max: 10, batchComplete: false },
  batch: { key: 'max 10, batch complete', max: 10, batchComplete: true },
} as const;
type ThroughputRun = (typeof THROUGHPUT_RUNS)[keyof typeof THROUGHPUT_RUNS];

/** One throughput run: tasks (or jobs) per second, its length, and CPU seconds per 1,000 by process. */
export interface ThroughputFigures {
  perSecond: number;
  seconds: number;
  cpu: Array<[string, number]>;
}

/** An OMS run's figures, with the seconds its queue took to seed. */
type OmsRunFigures = ThroughputFigures & { seeded: number };

/** The item whose `value` is the median of an odd count: a whole pair, so the figures shown belong together. */
export function medianBy<T>(items: T[], value: (item: T) => number): T {
  return [...items].sort((a, b) => value(a) - value(b))[Math.floor(items.length / 2)]!;
}

/** Per-process CPU figures averaged over runs; a process missing from a run counts 0 there. */
function meanCpu(runs: Array<Array<[string, number]>>): Array<[string, number]> {
  const sums = new Map<string, number>();
  for (const run of runs) for (const [label, seconds] of run) sums.set(label, (sums.get(label) ?? 0) + seconds);
  return [...sums].map(([label, seconds]) => [label, seconds / runs.length]);
}

/** Tasks leased and completed, untimed, before the first measured run: the processes' JIT is warm for all runs alike. */
const WARMUP_TASKS = 1000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Seeds `count` queued tasks into a pool with INSERT … SELECT generate_series, every NOT NULL
 * column filled as TasksService.queueFromSteps fills it (pool defaults: 3 attempts, 300 s lease,
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
export async function waitForQuiet(db: Client, bus: NatsBus): Promise<void> {
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

export type BenchInfra = Awaited<ReturnType<typeof benchInfra>>;
export type GraphileSkipped = { skipped: string };
const GRAPHILE_MISSING: GraphileSkipped = { skipped: 'graphile-worker reference not run: not installed (npm install -D graphile-worker@0.16.6)' };

/**
 * Runs `work` against graphile-worker on a fresh database of the same Postgres, migrated; the
 * database is dropped afterwards.
 */
export async function withGraphile<T>(bench: BenchInfra, poolSize: number, work: (gw: any, pgPool: Pool, db: Client, logger: unknown) => Promise<T>): Promise<T | GraphileSkipped> {
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
 * graphile-worker's runner in this process on `pgPool`, running `bench` for every job of task
 * `bench`; woken by LISTEN/NOTIFY, else every `pollInterval` ms.
 */
export function startGraphileRunner(gw: any, pgPool: Pool, logger: unknown, concurrency: number, pollInterval: number, bench: (payload: any) => Promise<void>): Promise<{ stop(): Promise<void> }> {
  return gw.run({ pgPool, concurrency, noHandleSignals: true, pollInterval, logger, taskList: { bench } });
}

/**
 * One `add_jobs` call (graphile-worker's bulk enqueue, what `addJobs` of later versions calls):
 * a job of task `bench` per payload, in one statement.
 */
export function addGraphileJobs(pgPool: Pool, payloads: unknown[]): Promise<unknown> {
  return pgPool.query(
    `SELECT count(*) FROM graphile_worker.add_jobs(
       (SELECT array_agg(ROW('bench', p, NULL, NULL, NULL, NULL, NULL, NULL)::graphile_worker.job_spec) FROM json_array_elements($1::json) AS p))`,
    [JSON.stringify(payloads)],
  );
}

/**
 * The throughput reference: `jobs` pre-queued jobs run to completion by graphile-worker
 * in-process (concurrency `concurrency`, no-op task).
 */
export function graphileThroughput(bench: BenchInfra, jobs: number, concurrency: number) {
  return withGraphile(bench, concurrency + 2, async (gw, pgPool, db, logger) => {
    await db.query(`SELECT graphile_worker.add_job('bench', json_build_object('i', i)) FROM generate_series(1, $1::int) AS i`, [jobs]);
    let done = 0;
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const cpuBefore = cpuSnapshot();
    const started = performance.now();
    const runner = await startGraphileRunner(gw, pgPool, logger, concurrency, 1000, async () => {
      done += 1;
      if (done === jobs) finish();
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
    return { perSecond: jobs / seconds, seconds, cpu };
  });
}

/** One pickup of ours: its latency, and the marks that split it at OMS's `queued_at`. */
interface OmsPickup {
  ms: number;
  taskId: string;
  publishedWall: number;
  returnedWall: number;
}

/**
 * One pickup of ours: a worker long-polls (`waitSeconds` 10); once it is parked, the bench
 * publishes `act.step.ready` to JetStream as ACT's relay does. From the publish to the lease call
 * returning the task; the task is then completed, untimed.
 */
async function omsPickup(rpc: RpcClient, bus: NatsBus, pool: string, i: number): Promise<OmsPickup> {
  const leasing = lease(rpc, pool, 'bench-idle', 1, 10).then((tasks) => ({ tasks, at: performance.now(), wall: Date.now() }));
  await sleep(25); // let the lease call park in OMS's long poll
  const publishedWall = Date.now();
  const t0 = performance.now();
  await publishStepReady(bus, pool, i);
  const { tasks, at, wall } = await leasing;
  if (tasks.length !== 1) throw new Error('the long-polling worker got no task within 10 s');
  await complete(rpc, tasks[0]);
  return { ms: at - t0, taskId: tasks[0].id, publishedWall, returnedWall: wall };
}

/**
 * The pickup reference, measured like ours: one idle graphile-worker (concurrency 1, woken by
 * LISTEN/NOTIFY; its poll interval is 10 s so only the notification can wake it); each pickup
 * adds one job with `add_job` once the worker has been idle 25 ms, and lasts from sending
 * `add_job` to the task function being called. Milliseconds.
 */
async function startGraphilePickup(gw: any, pgPool: Pool, db: Client, logger: unknown): Promise<{ pickup(i: number): Promise<number>; stop(): Promise<void> }> {
  let picked: ((at: number) => void) | undefined;
  const runner = await startGraphileRunner(gw, pgPool, logger, 1, 10_000, async () => picked?.(performance.now()));
  await sleep(200); // let the worker LISTEN and go idle
  return {
    async pickup(i: number): Promise<number> {
      const pickedAt = new Promise<number>((resolve) => (picked = resolve));
      await sleep(25);
      const t0 = performance.now();
      await db.query(`SELECT graphile_worker.add_job('bench', json_build_object('i', $1::int))`, [i]);
      const at = await Promise.race([pickedAt, sleep(10_000).then(() => Number.NaN)]);
      if (Number.isNaN(at)) throw new Error('graphile-worker picked up no job within 10 s');
      return at - t0;
    },
    stop: () => runner.stop(),
  };
}

/**
 * Pickup latency of ours and of graphile-worker, `samples` each after 10 warm-ups each, taken
 * alternately (which goes first swaps every round), so that whatever else the machine does
 * meanwhile (autovacuum after the throughput runs, other timers) falls on both alike. Taken one
 * side after the other, our samples came first, in the busiest minute of the bench.
 */
async function pickupLatency(bench: BenchInfra, rpc: RpcClient, bus: NatsBus, samples: number): Promise<{ ours: OmsPickup[]; theirs: number[] | GraphileSkipped }> {
  const pool = 'bench-pickup';
  await createPool(rpc, pool);
  const ours: OmsPickup[] = [];
  const sampleOurs = async (i: number) => {
    const sample = await omsPickup(rpc, bus, pool, i);
    if (i >= 10) ours.push(sample);
  };
  const theirs = await withGraphile(bench, 3, async (gw, pgPool, db, logger) => {
    const graphile = await startGraphilePickup(gw, pgPool, db, logger);
    const picked: number[] = [];
    const sampleTheirs = async (i: number) => {
      const ms = await graphile.pickup(i);
      if (i >= 10) picked.push(ms);
    };
    try {
      for (let i = 0; i < samples + 10; i += 1) {
        for (const sample of i % 2 === 0 ? [sampleOurs, sampleTheirs] : [sampleTheirs, sampleOurs]) await sample(i);
      }
    } finally {
      await graphile.stop();
    }
    return picked;
  });
  if ('skipped' in theirs) for (let i = 0; i < samples + 10; i += 1) await sampleOurs(i);
  return { ours, theirs };
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
    if (!Number.isInteger(options.pairs) || options.pairs < 1 || options.pairs % 2 === 0) {
      throw new Error(`--pairs takes an odd whole number (the median is then one of the pairs), not '${options.pairs}'`);
    }
    const runs = options.runs.map((name) => THROUGHPUT_RUNS[name as keyof typeof THROUGHPUT_RUNS]);
    await createPool(rpc, 'bench-warmup');
    await seedTasks(db, 'bench-warmup', WARMUP_TASKS);
    await drainPool(rpc, 'bench-warmup', WARMUP_TASKS, options.workers, 10, false);
    await waitForQuiet(db, bus);
    let pools = 0;
    const omsRun = async (run: ThroughputRun): Promise<OmsRunFigures> => {
      const pool = `bench-throughput-${(pools += 1)}`;
      await createPool(rpc, pool);
      const seeded = await seedTasks(db, pool, options.tasks);
      const cpuBefore = cpuSnapshot();
      const { completed, seconds } = await drainPool(rpc, pool, options.tasks, options.workers, run.max, run.batchComplete);
      // The events of the run are still being consumed (ledger, OPS); count their CPU too.
      await waitForQuiet(db, bus);
      return { perSecond: completed / seconds, seconds, cpu: cpuBreakdown(cpuBefore, cpuSnapshot(), completed), seeded };
    };
    const graphileRun = () => graphileThroughput(bench, options.graphileJobs, options.graphileConcurrency);

    // The judged run (max 10) and the reference alternate, who goes first swapping every pair, so
    // that the machine's drift (it ran the same build 40 % slower within an hour, see
    // docs/performance.md) falls on both. The pair with the median ratio is the judged one, and
    // its two runs are the figures shown for max 10 and the reference.
    const judged = runs.find((run) => run === THROUGHPUT_RUNS.max10);
    const pairs: Array<{ ours: OmsRunFigures; theirs: ThroughputFigures; oursFirst: boolean }> = [];
    const results = new Map<ThroughputRun, OmsRunFigures>();
    let graphile: ThroughputFigures | GraphileSkipped | undefined;
    let judgedPair: (typeof pairs)[number] | undefined;
    for (const run of runs) {
      if (run !== judged) {
        results.set(run, await omsRun(run));
        continue;
      }
      for (let pair = 0; pair < options.pairs; pair += 1) {
        const oursFirst = pair % 2 === 0;
        const first = oursFirst ? await omsRun(run) : await graphileRun();
        const second = oursFirst ? await graphileRun() : await omsRun(run);
        const [ours, theirs] = (oursFirst ? [first, second] : [second, first]) as [OmsRunFigures, ThroughputFigures | GraphileSkipped];
        if ('skipped' in theirs) {
          graphile = theirs;
          results.set(run, ours);
          break;
        }
        pairs.push({ ours, theirs, oursFirst });
      }
      if (pairs.length > 0) {
        judgedPair = medianBy(pairs, ({ ours, theirs }) => ours.perSecond / theirs.perSecond);
        results.set(run, judgedPair.ours);
        graphile = judgedPair.theirs;
      }
    }
    graphile ??= await graphileRun();
    const medianOf = (label: string) => (judgedPair && pairs.length > 1 ? `${label}, median pair of ${pairs.length}` : label);
    for (const run of runs) {
      const figures = results.get(run)!;
      const how = run.batchComplete ? ', one complete-many per lease' : '';
      const label = `OMS over NATS, ${options.workers} workers, max ${run.max}${how}`;
      throughput.push([run === judged ? medianOf(label) : label, options.tasks, formatNumber(figures.seconds), figures.perSecond, formatNumber(figures.seeded)]);
    }
    if ('skipped' in graphile) {
      throughput.push([graphile.skipped, '-', '-', '-', '-']);
    } else {
      throughput.push([medianOf(`graphile-worker 0.16 in-process, concurrency ${options.graphileConcurrency}`), options.graphileJobs, formatNumber(graphile.seconds), graphile.perSecond, '-']);
    }
    printTable(
      `1. lease+complete throughput (${options.tasks.toLocaleString('en-US')} pre-queued tasks per run)`,
      ['what', 'tasks', 'seconds', 'tasks/s', 'seed s'],
      throughput,
    );
    const pairRatios = pairs.map(({ ours, theirs }) => ours.perSecond / theirs.perSecond);
    const judgedRatio = judgedPair ? judgedPair.ours.perSecond / judgedPair.theirs.perSecond : undefined;
    if (judgedPair) {
      printTable(
        `1a. max 10 and graphile-worker in ${pairs.length} alternating pairs (judged: the pair with the median ratio, marked)`,
        ['pair', 'first', 'OMS max 10 tasks/s', 'graphile-worker jobs/s', 'ratio'],
        pairs.map((pair, i) => [`${i + 1}${pair === judgedPair ? ' (median)' : ''}`, pair.oursFirst ? 'OMS' : 'graphile-worker', pair.ours.perSecond, pair.theirs.perSecond, `${formatNumber(pairRatios[i]!)}×`]),
      );
    }
    const reference = 'skipped' in graphile ? undefined : graphile.perSecond;
    printTable('1b. OMS against the graphile-worker reference', ['OMS run', 'tasks/s', 'measured graphile-worker', 'ratio (OMS/graphile measured)', 'ratio to quoted ≈5,000/s'], [
      ...runs.map((run) => {
        const { perSecond } = results.get(run)!;
        const ratio = reference === undefined ? undefined : perSecond / reference;
        return [
          run === judged ? medianOf(run.key) : run.key,
          perSecond,
          reference === undefined ? 'not run: not installed' : formatNumber(reference),
          ratio === undefined ? 'n/a' : `${formatNumber(ratio)}×`,
          `${formatNumber(perSecond / GRAPHILE_QUOTED.jobsPerSecond)}×`,
        ];
      }),
    ]);
    const cpuOf = (figures: ThroughputFigures[]) => meanCpu(figures.map((f) => f.cpu));
    const cpu = new Map(runs.map((run) => [run, run === judged && judgedPair ? cpuOf(pairs.map((p) => p.ours)) : results.get(run)!.cpu]));
    const graphileCpu = 'skipped' in graphile ? [] : pairs.length > 0 ? cpuOf(pairs.map((p) => p.theirs)) : graphile.cpu;
    const labels = [...new Set([...runs.flatMap((run) => cpu.get(run)!), ...graphileCpu].map(([label]) => label))];
    const column = (rows: Array<[string, number]>, label: string) => rows.find(([l]) => l === label)?.[1] ?? 0;
    const total = (rows: Array<[string, number]>) => rows.reduce((sum, [, seconds]) => sum + seconds, 0);
    if (labels.length > 0) {
      printTable(
        `1c. CPU seconds per 1,000 tasks, by process (from /proc; OMS runs include consuming their events${pairs.length > 1 ? '; max 10 and graphile-worker: mean of the pairs' : ''})`,
        ['process', ...runs.map(({ key }) => `OMS ${key}`), 'graphile-worker'],
        [
          ...labels.map((label) => [label, ...runs.map((run) => formatNumber(column(cpu.get(run)!, label))), formatNumber(column(graphileCpu, label))]),
          ['total', ...runs.map((run) => formatNumber(total(cpu.get(run)!))), formatNumber(total(graphileCpu))],
        ],
      );
    }

    // 2. Pickup latency: an idle long-polling worker, tasks queued one at a time, alternately with graphile-worker's.
    const { ours: picked, theirs: graphilePicked } = await pickupLatency(bench, rpc, bus, options.pickupSamples);
    const pickup = picked.map((sample) => sample.ms);
    const { rows } = await db.query<{ id: string; queued_at: Date }>('SELECT id, queued_at FROM oms.tasks WHERE id = ANY($1::uuid[])', [picked.map((sample) => sample.taskId)]);
    const queuedAt = new Map(rows.map((row) => [row.id, row.queued_at.getTime()]));
    const publishToQueued: number[] = [];
    const queuedToReturned: number[] = [];
    for (const sample of picked) {
      const queued = queuedAt.get(sample.taskId);
      if (queued === undefined) continue;
      publishToQueued.push(queued - sample.publishedWall);
      queuedToReturned.push(sample.returnedWall - queued);
    }
    const graphilePickupRow =
      'skipped' in graphilePicked
        ? [graphilePicked.skipped, '-', '-', '-']
        : ['graphile-worker 0.16, idle worker (LISTEN/NOTIFY): add_job sent → task function called', ms(percentile(graphilePicked, 0.5)), ms(percentile(graphilePicked, 0.99)), ms(Math.max(...graphilePicked))];
    printTable(`2. pickup latency, idle long-polling worker (waitSeconds 10), ${pickup.length} tasks queued one at a time, sampled alternately with graphile-worker`, ['span', 'p50 ms', 'p99 ms', 'max ms'], [
      ['publish act.step.ready → lease call returns the task', ms(percentile(pickup, 0.5)), ms(percentile(pickup, 0.99)), ms(Math.max(...pickup))],
      ['  of which publish → OMS queued_at (JetStream to OMS, until it queues; ms clock)', ms(percentile(publishToQueued, 0.5)), ms(percentile(publishToQueued, 0.99)), ms(Math.max(...publishToQueued))],
      ['  of which OMS queued_at → lease returned (queued and leased to the parked call in one statement, then the reply; ms clock)', ms(percentile(queuedToReturned, 0.5)), ms(percentile(queuedToReturned, 0.99)), ms(Math.max(...queuedToReturned))],
      graphilePickupRow,
    ]);
    const graphilePickupP99 = 'skipped' in graphilePicked ? undefined : percentile(graphilePicked, 0.99);

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
    const max10 = judged ? results.get(judged)!.perSecond : undefined;
    const pairRatioList = pairRatios.map((ratio) => `${formatNumber(ratio)}×`).join(', ');
    const throughputTargets =
      max10 === undefined
        ? [['throughput at max 10 ≥ graphile-worker', `not measured (--runs ${options.runs.join(',')})`, 'n/a']]
        : [
            [`throughput at max 10 ≥ graphile-worker's ≈${GRAPHILE_QUOTED.jobsPerSecond.toLocaleString('en-US')} jobs/s (quoted)`, `${formatNumber(max10)} tasks/s`, yes(max10 >= GRAPHILE_QUOTED.jobsPerSecond)],
            [
              'throughput at max 10 ≥ graphile-worker measured here (the pair with the median ratio)',
              judgedRatio === undefined ? 'graphile-worker reference not run: not installed' : `${formatNumber(judgedRatio)}× (pairs: ${pairRatioList})`,
              judgedRatio === undefined ? 'n/a' : yes(judgedRatio >= 1),
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
