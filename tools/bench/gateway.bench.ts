import { performance } from 'node:perf_hooks';
import { censusSnapshot, printCensus } from './census';
import { benchInfra, cpuBreakdown, cpuSnapshot, formatNumber, gatewayStack, loadAverage, mapConcurrent, percentile, printTable, type BenchHttp } from './bench-support';
import { addGraphileJobs, graphileThroughput, startGraphileRunner, waitForQuiet, withGraphile, type BenchInfra, type GraphileSkipped } from './oms.bench';
import { statementCounting, statementCounts, statementRows, statementsBetween } from './statement-runs';

const POOL = 'bench_pool';
const PLAN = { id: 'bench_single', title: 'One-step bench plan', steps: [{ id: 'work', pool: POOL }] };

export interface GatewayBenchOptions {
  /** Requests created one per call (figure 1). */
  requests: number;
  /** Calls in flight for figure 1. */
  inFlight: number;
  /** Requests created in batch calls (figure 2), in calls of `batchSize`. */
  batchRequests: number;
  batchSize: number;
  /** Pre-queued tasks per lease+complete run (figure 3). */
  tasks: number;
  workers: number;
  /** Requests per pickup run (figure 4), at each arrival rate. */
  pickups: number;
  rates: number[];
  /** Which figures to run: 1 create, 2 batch, 3 process, 4 pickup. */
  figures: string[];
  /** Count statements per request by service in figures 1 and 2 (preloads statement-counter; CPU figures are then not the run's). */
  statements: boolean;
  /**
   * Count, per request (figure 1) or task (3), SQL statements and transactions and NATS messages
   * by service, stream messages by event type and deliveries by consumer (tools/bench/census.ts).
   * The services then carry the counter, so the CPU figures are not the run's.
   */
  census: boolean;
  /**
   * Figure 4's workers complete with `next` (one call per task while tasks are queued), as the
   * SDK's worker loop does; false: a lease call after every complete (two calls per task).
   */
  pickupNext: boolean;
}

/** How many of the busiest statements per service the statements tables show. */
const TOP_STATEMENTS = 8;

interface LeasedTask {
  id: string;
  leaseToken: string;
  payload: { i: number };
}

/** One figure: ours and the peer's rate, and CPU seconds per 1,000 by process of each. */
interface Figure {
  label: string;
  count: number;
  seconds: number;
  perSecond: number;
  cpu: Array<[string, number]>;
  peer?: { label: string; perSecond: number; cpu: Array<[string, number]> } | GraphileSkipped;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Until `depth` tasks are queued in the pool, asked through the gateway as a client would. */
async function waitForDepth(http: BenchHttp, token: string, depth: number): Promise<void> {
  for (;;) {
    const peek = await http.ok<{ depth: number }>('GET', `/v1/pools/${POOL}/queue?limit=1`, token);
    if (peek.depth >= depth) return;
    await sleep(5);
  }
}

/**
 * The system as its users meet it: the four services as processes, driven only through the REST
 * gateway over HTTP, with graphile-worker run on the same Postgres in the same run as the
 * reference for each figure. CPU per 1,000 is read from /proc for every process.
 */
export async function gatewayBench(options: GatewayBenchOptions): Promise<void> {
  const benchStarted = performance.now();
  // Everything else the machine runs takes from the same two cores, Postgres backends included.
  process.stdout.write(`load average at start: ${loadAverage()}\n`);
  const bench = await benchInfra();
  // The trust issue's rate limits would measure the limiter, not the system.
  const counting = statementCounting(options.statements || options.census);
  const session = await gatewayStack(bench, 'gateway', { HMS_RATE_LIMIT_DISABLED: '1', ...counting.env });
  const { stack, bus, db, http } = session;
  const counters = counting.dir ? Object.values(stack.services).map((service) => ({ name: service.name, pid: service.pid!, dir: counting.dir! })) : undefined;
  /** Statements per 1,000 requests by service, one table per counted figure. */
  const statementTables: Array<{ label: string; rows: Array<Array<string | number>> }> = [];
  const countStatements = async <T>(label: string, requests: number, run: () => Promise<T>): Promise<T> => {
    if (!counters) return run();
    const before = await statementCounts(counters);
    const result = await run();
    statementTables.push({ label, rows: statementRows(statementsBetween(before, await statementCounts(counters)), requests, TOP_STATEMENTS, formatNumber) });
    return result;
  };
  /** With --census, the counts so far (else nothing), and a function printing what changed since, per `units` `unit`s. */
  const census = async () => {
    if (!counters || !options.census) return (): Promise<void> => Promise.resolve();
    const before = await censusSnapshot(counters, bus, db);
    return async (title: string, units: number, unit: string) => printCensus(title, before, await censusSnapshot(counters, bus, db), units, unit);
  };
  const manager = stack.managerToken;
  const service = stack.serviceToken;
  // A worker token is its own worker: one token per bench worker loop.
  const workerTokens = (name: string) => Promise.all(Array.from({ length: options.workers }, (_, w) => stack.workerToken([POOL], `${name}-${w}`)));
  const worker = await workerTokens('bench');
  const idleWorker = await workerTokens('bench-idle');
  const figures: Figure[] = [];
  let sequence = 0;
  const items = (count: number) => Array.from({ length: count }, () => ({ plan: PLAN.id, payload: { i: (sequence += 1) } }));
  const createBatches = async (count: number, size: number, inFlight: number) => {
    const all = items(count);
    const calls = Array.from({ length: Math.ceil(count / size) }, (_, c) => all.slice(c * size, (c + 1) * size));
    await mapConcurrent(calls, inFlight, async (batch) => {
      const { results } = await http.ok<{ results: Array<{ status: number }> }>('POST', '/v1/requests/batch', service, { items: batch });
      const failed = results.find((result) => result.status !== 201);
      if (failed) throw new Error(`a batch item failed: ${JSON.stringify(failed)}`);
    });
  };
  const quiet = () => waitForQuiet(db, bus);
  try {
    await http.ok('POST', '/v1/plans', manager, PLAN);
    // Warm-up, untimed: every process's JIT and pools are warm for all figures alike.
    await mapConcurrent(items(300), options.inFlight, (item) => http.ok('POST', '/v1/requests', service, item));
    await drain(http, worker, 300, options.workers, 10, 'complete-many');
    await quiet();

    if (options.figures.includes('1')) {
      const counts = await census();
      const { seconds, cpu } = await countStatements('1. POST /v1/requests', options.requests, async () => {
        const cpuBefore = cpuSnapshot();
        const started = performance.now();
        await mapConcurrent(items(options.requests), options.inFlight, (item) => http.ok('POST', '/v1/requests', service, item));
        const seconds = (performance.now() - started) / 1000;
        // Counted until OMS has queued them and every event is consumed: the CPU of a whole request.
        await waitForDepth(http, manager, options.requests);
        await quiet();
        return { seconds, cpu: cpuBreakdown(cpuBefore, cpuSnapshot(), options.requests) };
      });
      await counts('Figure 1, create until queued', options.requests, 'request');
      const peer = await graphileAddOneByOne(bench, options.requests, options.inFlight);
      figures.push({ label: `1. POST /v1/requests, one per call, ${options.inFlight} in flight`, count: options.requests, seconds, perSecond: options.requests / seconds, cpu, peer });
      await drain(http, worker, options.requests, options.workers, 10, 'complete-many');
      await quiet();
    }

    if (options.figures.includes('2')) {
      const { seconds, answered, cpu } = await countStatements(`2. POST /v1/requests/batch, ${options.batchSize} per call`, options.batchRequests, async () => {
        const cpuBefore = cpuSnapshot();
        const started = performance.now();
        await createBatches(options.batchRequests, options.batchSize, 2);
        const answered = (performance.now() - started) / 1000;
        await waitForDepth(http, manager, options.batchRequests);
        const seconds = (performance.now() - started) / 1000;
        await quiet();
        return { seconds, answered, cpu: cpuBreakdown(cpuBefore, cpuSnapshot(), options.batchRequests) };
      });
      const peer = await graphileAddJobs(bench, options.batchRequests, options.batchSize);
      figures.push({
        label: `2. POST /v1/requests/batch, ${options.batchSize} per call, 2 in flight, until queued and leaseable (all calls answered after ${formatNumber(answered)} s)`,
        count: options.batchRequests,
        seconds,
        perSecond: options.batchRequests / seconds,
        cpu,
        peer,
      });
      await drain(http, worker, options.batchRequests, options.workers, 10, 'complete-many');
      await quiet();
    }

    if (options.figures.includes('3')) {
      const peerRun = await graphileThroughput(bench, options.tasks, 10);
      const peer = 'skipped' in peerRun ? peerRun : { label: 'graphile-worker 0.16, concurrency 10', perSecond: peerRun.perSecond, cpu: peerRun.cpu };
      const shapes: Array<[DrainShape, string]> = [
        ['complete-many', 'one complete-many per lease'],
        ['complete-many-next', 'one complete-many per lease, the next lease in its answer'],
        ['one-complete', 'one complete per task'],
      ];
      for (const [shape, how] of shapes) {
        await createBatches(options.tasks, Math.min(1000, options.batchSize), 2);
        await waitForDepth(http, manager, options.tasks);
        await quiet();
        const counts = await census();
        const cpuBefore = cpuSnapshot();
        const { completed, seconds } = await drain(http, worker, options.tasks, options.workers, 10, shape);
        await quiet();
        const cpu = cpuBreakdown(cpuBefore, cpuSnapshot(), completed);
        await counts(`Figure 3, lease max 10, ${how}`, completed, 'task');
        figures.push({ label: `3. lease max 10, ${how}, ${options.workers} workers`, count: completed, seconds, perSecond: completed / seconds, cpu, peer });
      }
    }

    const pickups: Array<Array<string | number>> = [];
    const pickupTargets: Array<Array<string | number>> = [];
    if (options.figures.includes('4')) {
      for (const rate of options.rates) {
        const counts = await census();
        const cpuBefore = cpuSnapshot();
        const run = await countStatements(`4. pickup at ${rate}/s`, options.pickups, () => gatewayPickup(http, service, manager, idleWorker, options.pickups, rate, options.workers, options.pickupNext));
        const ours = run.latencies;
        await quiet();
        const cpu = cpuBreakdown(cpuBefore, cpuSnapshot(), options.pickups);
        await counts(`Figure 4, pickup at ${rate}/s: create, lease max 1, complete`, options.pickups, 'request');
        const theirs = await graphilePickup(bench, options.pickups, rate, options.workers);
        pickups.push([`${rate}/s arriving, ${options.workers} idle long-polling workers${options.pickupNext ? ' completing with next' : ''}: POST → the answer carrying its task`, ms(percentile(ours, 0.5)), ms(percentile(ours, 0.99)), ms(Math.max(...ours))]);
        pickups.push([`a worker's lease call answered with a task`, ms(percentile(run.leaseCalls, 0.5)), ms(percentile(run.leaseCalls, 0.99)), ms(Math.max(...run.leaseCalls))]);
        pickups.push([`a worker's complete call`, ms(percentile(run.completeCalls, 0.5)), ms(percentile(run.completeCalls, 0.99)), ms(Math.max(...run.completeCalls))]);
        pickups.push([`… of which POST → its answer (the create); at most ${run.maxDepth} tasks stood queued for a worker`, ms(percentile(run.answered, 0.5)), ms(percentile(run.answered, 0.99)), ms(Math.max(...run.answered))]);
        pickups.push(
          'skipped' in theirs
            ? [theirs.skipped, '-', '-', '-']
            : [`graphile-worker 0.16, ${rate}/s, concurrency ${options.workers}: add_job → task called`, ms(percentile(theirs, 0.5)), ms(percentile(theirs, 0.99)), ms(Math.max(...theirs))],
        );
        const p50 = percentile(ours, 0.5);
        const p99 = percentile(ours, 0.99);
        if (rate === 200) {
          pickupTargets.push(['pickup at 200/s: p99 ≤ 50 ms', `${ms(p99)} ms`, yes(p99 <= 50)]);
          pickupTargets.push(['pickup at 200/s: p50 ≤ 10 ms', `${ms(p50)} ms`, yes(p50 <= 10)]);
        }
        if (rate === 1000) pickupTargets.push(['pickup at 1,000/s: p99 ≤ 250 ms', `${ms(p99)} ms`, yes(p99 <= 250)]);
        figures.push({ label: `4. pickup at ${rate}/s (CPU of the whole run)`, count: options.pickups, seconds: options.pickups / rate, perSecond: Number.NaN, cpu });
      }
    }

    const peerRate = (figure: Figure) => (!figure.peer || 'skipped' in figure.peer ? undefined : figure.peer.perSecond);
    printTable('Rates through the gateway, and graphile-worker on the same Postgres in the same run', ['figure', 'count', 'seconds', 'per second', 'graphile-worker per second', 'ratio'], [
      ...figures
        .filter((figure) => Number.isFinite(figure.perSecond))
        .map((figure) => {
          const peer = peerRate(figure);
          return [figure.label, figure.count, formatNumber(figure.seconds), figure.perSecond, peer === undefined ? 'not run' : peer, peer === undefined ? 'n/a' : `${formatNumber(figure.perSecond / peer)}×`];
        }),
    ]);
    if (pickups.length > 0) printTable(`4. pickup latency, ${options.pickups} requests per rate`, ['span', 'p50 ms', 'p99 ms', 'max ms'], pickups);
    const columns = figures.map((figure) => figure.cpu);
    const peerColumns = figures.map((figure) => (figure.peer && !('skipped' in figure.peer) ? figure.peer.cpu : undefined));
    const labels = [...new Set(columns.flat().map(([label]) => label))];
    const cell = (rows: Array<[string, number]> | undefined, label: string) => (rows ? formatNumber(rows.find(([l]) => l === label)?.[1] ?? 0) : '-');
    const total = (rows: Array<[string, number]> | undefined) => (rows ? formatNumber(rows.reduce((sum, [, s]) => sum + s, 0)) : '-');
    printTable(
      'CPU seconds per 1,000 requests (figures 1, 2, 4) or tasks (3), by process, from /proc; each run counted until its events are consumed. graphile-worker runs inside the bench client',
      ['process', ...figures.flatMap((figure, i) => [figure.label.split(',')[0]!, ...(peerColumns[i] ? ['  graphile-worker'] : [])])],
      [
        ...labels.map((label) => [label, ...figures.flatMap((_, i) => [cell(columns[i], label), ...(peerColumns[i] ? [cell(peerColumns[i], label)] : [])])]),
        ['total', ...figures.flatMap((_, i) => [total(columns[i]), ...(peerColumns[i] ? [total(peerColumns[i])] : [])])],
      ],
    );
    const ratioOf = (figure: Figure | undefined) => {
      const peer = figure && peerRate(figure);
      return figure && peer !== undefined ? figure.perSecond / peer : undefined;
    };
    const byPrefix = (prefix: string) => figures.find((figure) => figure.label.startsWith(prefix));
    const targets: Array<Array<string | number>> = [];
    const create = byPrefix('1.');
    if (create) {
      const cpu = create.cpu.reduce((sum, [, seconds]) => sum + seconds, 0);
      targets.push(['POST /v1/requests ≥ 1,000/s (aim 2,000)', `${formatNumber(create.perSecond)}/s`, yes(create.perSecond >= 1000)]);
      targets.push(['CPU per accepted request, all processes, ≤ 1.5 ms (aim 1)', `${formatNumber(cpu)} ms`, yes(cpu <= 1.5)]);
    }
    const target = (figure: Figure | undefined, text: string, min: number) => {
      const ratio = ratioOf(figure);
      if (figure) targets.push([text, ratio === undefined ? 'peer not run' : `${formatNumber(ratio)}×`, ratio === undefined ? 'n/a' : yes(ratio >= min)]);
    };
    target(byPrefix('2.'), 'batch create ≥ 0.5× graphile-worker add_jobs', 0.5);
    // Judged on the shape a bot working in batches uses: its next lease rides on its complete-many.
    target(figures.find((figure) => figure.label.includes('the next lease in its answer')), 'lease max 10 + complete-many (next lease in its answer) ≥ 1.0× graphile-worker c=10', 1);
    target(figures.find((figure) => figure.label.includes('one complete per task')), 'lease max 10 + one complete per task ≥ 0.5×', 0.5);
    targets.push(...pickupTargets);
    printTable('Targets (issue 22)', ['target', 'measured', 'met'], targets);
    for (const table of statementTables) {
      printTable(
        `${table.label}: statements per 1,000 requests, by service (pg.Client#query calls from the first call until every event is consumed, busiest ${TOP_STATEMENTS} each; counted, so this run's CPU figures are not the run's)`,
        ['statement', 'per 1,000 requests'],
        table.rows,
      );
    }
    process.stdout.write(`\nbench wall time: ${formatNumber((performance.now() - benchStarted) / 1000)} s; load average now ${loadAverage()}\n`);
  } finally {
    await session.close();
    await bench.stop();
    counting.close();
  }
}

const ms = (value: number) => formatNumber(value);
const yes = (met: boolean) => (met ? 'yes' : 'no');

/** `workers` loops of lease (max) and complete (one complete-many, or one call per task) until `total` are done. */
type DrainShape = 'complete-many' | 'complete-many-next' | 'one-complete';

async function drain(http: BenchHttp, tokens: string[], total: number, workers: number, max: number, shape: DrainShape): Promise<{ completed: number; seconds: number }> {
  let leased = 0;
  let completed = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      const token = tokens[w]!;
      let carried: LeasedTask[] = [];
      while (leased < total || carried.length > 0) {
        let tasks = carried;
        carried = [];
        if (tasks.length === 0) {
          tasks = (await http.ok<{ tasks: LeasedTask[] }>('POST', `/v1/pools/${POOL}/lease`, token, { max, waitSeconds: 0 })).tasks;
          if (tasks.length === 0) {
            await sleep(1);
            continue;
          }
          leased += tasks.length;
        }
        if (shape === 'one-complete') {
          await Promise.all(tasks.map((task) => http.ok('POST', `/v1/tasks/${task.id}/complete`, token, { leaseToken: task.leaseToken, output: { ok: true } })));
        } else {
          const next = shape === 'complete-many-next' && leased < total ? { next: { pool: POOL, max } } : {};
          const answer = await http.ok<{ results: Array<{ error?: unknown }>; next?: { tasks: LeasedTask[] } }>('POST', '/v1/tasks/complete', token, {
            items: tasks.map((task) => ({ taskId: task.id, leaseToken: task.leaseToken, output: { ok: true } })),
            ...next,
          });
          if (answer.results.some((result) => result.error)) throw new Error(`complete-many failed: ${JSON.stringify(answer.results)}`);
          carried = answer.next?.tasks ?? [];
          leased += carried.length;
        }
        completed += tasks.length;
      }
    }),
  );
  return { completed, seconds: (performance.now() - started) / 1000 };
}

interface PickupRun {
  /** Per request, from before the POST to the answer carrying its task. */
  latencies: number[];
  /** Per request, from before the POST to its answer: the create's share of the latency. */
  answered: number[];
  /** The pool's queued depth, asked every 50 ms: tasks waiting for a free worker. */
  maxDepth: number;
  /** A worker's round trips: leases answered with a task, and completes (with `next` when asked). */
  leaseCalls: number[];
  completeCalls: number[];
}

/**
 * Pickup through the gateway: `workers` idle workers long-poll (max 1, waitSeconds 10); `count`
 * requests are created at `rate` per second (open loop: each is sent at its time, whether or not
 * the earlier ones were answered). Latency of each: from just before its POST to the answer
 * that carries its task (matched by the payload's sequence number): a lease answer, or with
 * `withNext` the answer of the worker's complete before it. Milliseconds.
 */
async function gatewayPickup(http: BenchHttp, service: string, manager: string, tokens: string[], count: number, rate: number, workers: number, withNext: boolean): Promise<PickupRun> {
  const sentAt = new Map<number, number>();
  const latencies: number[] = [];
  const answered: number[] = [];
  const base = 10_000_000 * rate;
  let done = false;
  let maxDepth = 0;
  const leaseCalls: number[] = [];
  const completeCalls: number[] = [];
  const loops = Array.from({ length: workers }, async (_, w) => {
    const token = tokens[w]!;
    let carried: LeasedTask | undefined;
    // The moment a task reaches its worker: in a lease answer, or in the answer of the complete before it.
    const arrived = (task: LeasedTask) => {
      const sent = sentAt.get(task.payload.i);
      if (sent !== undefined) latencies.push(performance.now() - sent);
    };
    while (!done || carried) {
      let task = carried;
      carried = undefined;
      if (!task) {
        const asked = performance.now();
        [task] = (await http.ok<{ tasks: LeasedTask[] }>('POST', `/v1/pools/${POOL}/lease`, token, { max: 1, waitSeconds: 10 })).tasks;
        if (!task) continue;
        leaseCalls.push(performance.now() - asked);
        arrived(task);
      }
      const completing = performance.now();
      const body = { leaseToken: task.leaseToken, output: {}, ...(withNext && !done ? { next: { pool: POOL, max: 1 } } : {}) };
      const answer = await http.ok<{ next?: { tasks: LeasedTask[] } }>('POST', `/v1/tasks/${task.id}/complete`, token, body);
      completeCalls.push(performance.now() - completing);
      carried = answer.next?.tasks[0];
      if (carried) arrived(carried);
      if (latencies.length >= count) done = true;
    }
  });
  await sleep(200); // let the workers park in their long polls
  // Where a backlog stands: tasks queued in OMS wait for a worker; otherwise they wait upstream.
  const depthSampler = (async () => {
    while (!done) {
      const peek = await http.ok<{ depth: number }>('GET', `/v1/pools/${POOL}/queue?limit=1`, manager);
      maxDepth = Math.max(maxDepth, peek.depth);
      await sleep(50);
    }
  })();
  const started = performance.now();
  const posts: Array<Promise<unknown>> = [];
  for (let n = 0; n < count; n += 1) {
    const due = started + (n * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const i = base + n;
    const sent = performance.now();
    sentAt.set(i, sent);
    posts.push(http.ok('POST', '/v1/requests', service, { plan: PLAN.id, payload: { i } }).then(() => answered.push(performance.now() - sent)));
  }
  await Promise.all(posts);
  while (latencies.length < count) await sleep(5);
  done = true;
  // The workers' last long polls end within their wait; a request per worker releases them now.
  await Promise.all(Array.from({ length: workers }, (_, n) => http.ok('POST', '/v1/requests', service, { plan: PLAN.id, payload: { i: base + count + n } })));
  await Promise.all([...loops, depthSampler]);
  return { latencies, answered, maxDepth, leaseCalls, completeCalls };
}

/** graphile-worker's enqueue one job per call (`add_job`), `inFlight` at once: the peer of figure 1. */
async function graphileAddOneByOne(bench: BenchInfra, count: number, inFlight: number): Promise<Figure['peer']> {
  return withGraphile(bench, inFlight, async (_gw, pgPool) => {
    const cpuBefore = cpuSnapshot();
    const started = performance.now();
    await mapConcurrent(
      Array.from({ length: count }, (_, i) => i),
      inFlight,
      (i) => pgPool.query(`SELECT graphile_worker.add_job('bench', json_build_object('i', $1::int))`, [i]),
    );
    const seconds = (performance.now() - started) / 1000;
    return { label: `graphile-worker add_job, ${inFlight} in flight`, perSecond: count / seconds, cpu: cpuBreakdown(cpuBefore, cpuSnapshot(), count) };
  });
}

/**
 * graphile-worker's bulk enqueue, `add_jobs` (what `addJobs` of later versions calls), `size`
 * jobs per call, 2 in flight: the peer of figure 2. Its jobs are leaseable once it returns.
 */
async function graphileAddJobs(bench: BenchInfra, count: number, size: number): Promise<Figure['peer']> {
  return withGraphile(bench, 2, async (_gw, pgPool) => {
    const calls = Array.from({ length: Math.ceil(count / size) }, (_, c) => Array.from({ length: Math.min(size, count - c * size) }, (_, i) => ({ i: c * size + i })));
    const cpuBefore = cpuSnapshot();
    const started = performance.now();
    await mapConcurrent(calls, 2, (payloads) => addGraphileJobs(pgPool, payloads));
    const seconds = (performance.now() - started) / 1000;
    return { label: `graphile-worker add_jobs, ${size} per call`, perSecond: count / seconds, cpu: cpuBreakdown(cpuBefore, cpuSnapshot(), count) };
  });
}

/**
 * graphile-worker's pickup, measured like ours: `count` jobs added at `rate` per second (open
 * loop) to an idle runner of concurrency `concurrency`; from before `add_job` to the task
 * function being called. Milliseconds.
 */
async function graphilePickup(bench: BenchInfra, count: number, rate: number, concurrency: number): Promise<number[] | GraphileSkipped> {
  return withGraphile(bench, concurrency + 4, async (gw, pgPool, _db, logger) => {
    const sentAt = new Map<number, number>();
    const latencies: number[] = [];
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const runner = await startGraphileRunner(gw, pgPool, logger, concurrency, 10_000, async (payload: { i: number }) => {
      latencies.push(performance.now() - sentAt.get(payload.i)!);
      if (latencies.length === count) finish();
    });
    try {
      await sleep(200);
      const started = performance.now();
      const adds: Array<Promise<unknown>> = [];
      for (let i = 0; i < count; i += 1) {
        const wait = started + (i * 1000) / rate - performance.now();
        if (wait > 1) await sleep(wait);
        sentAt.set(i, performance.now());
        adds.push(pgPool.query(`SELECT graphile_worker.add_job('bench', json_build_object('i', $1::int))`, [i]));
      }
      await Promise.all(adds);
      await finished;
      return latencies;
    } finally {
      await runner.stop();
    }
  });
}
