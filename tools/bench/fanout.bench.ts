import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { NatsBus } from '@hms/platform';
import { POSTGRES_REST, benchInfra, cpuBreakdown, cpuSnapshot, formatNumber, gatewayStack, loadAverage, mapConcurrent, printTable, type BenchHttp } from './bench-support';
import { addGraphileJobs, medianBy, startGraphileRunner, waitForQuiet, withGraphile, type BenchInfra, type GraphileSkipped, type ThroughputFigures } from './oms.bench';
import { statementCounting, statementCounts, statementRows, statementsBetween, type CountedProcess } from './statement-runs';

const POOL = 'bench_fanout';
/** One step over `payload.count` items (docs/plans.md, `forEach`); a dead item fails the request, so a run that loses one cannot pass. */
const PLAN = {
  id: 'bench_fanout',
  title: 'Fan-out bench plan',
  steps: [{ id: 'items', pool: POOL, forEach: 'lists.range(payload.count)', onItemFailure: 'fail' }],
};
/** The nightly job of chapter 002, extrapolated from the measured rate. */
const CHAPTER_ITEMS = 2_000_000;
/** Items of the untimed fan-out before the measured runs: every process's JIT and pools are warm for all runs alike. */
const WARMUP_ITEMS = 1000;
/** How often the bench asks `GET /v1/requests/:id` whether the request ended (its cost is in the figures; 4 calls a second is noise). */
const POLL_MS = 250;
/** How many of the busiest statements per service the statements table shows. */
const TOP_STATEMENTS = 6;
/** How often a bot retries a call answered 503 before the run fails. */
const BOT_RETRIES = 20;

export interface FanoutBenchOptions {
  /** Items of the measured request (the `forEach` width), and jobs of the peer. */
  items: number;
  /** Bot loops leasing through the gateway, each with its own worker token; also the peer's concurrency. */
  bots: number;
  /** Lease `max`; each lease is completed with one complete-many. */
  max: number;
  /** The bots' long-poll wait. */
  waitSeconds: number;
  /** The peer's jobs per `add_jobs` call. */
  addChunk: number;
  /** Alternating runs of ours and the peer (odd: the median ratio is one of the pairs). */
  pairs: number;
  /** Count statements per item by service (preloads statement-counter; its CPU figures are then not the run's). */
  statements: boolean;
  /** Only the graphile-worker side (no stack): its figure alone, e.g. on a build without `forEach`. */
  peerOnly: boolean;
}

interface LeasedItem {
  id: string;
  leaseToken: string;
  input: { item?: unknown; index?: number };
}

/** One run of either side: items per second over `seconds`, and CPU seconds per 1,000 items by process. */
type RunFigures = ThroughputFigures;

/** Our run: its figures, the times its phases ended (seconds from before the POST), and what the ledger holds. */
interface FanoutRun extends RunFigures {
  requestId: string;
  phases: Array<[string, number]>;
  /** Calls answered 503 and retried, and items answered as failed by a retried complete-many. */
  retried: { unavailable: number; itemErrors: number };
  ledger: Array<{ type: string; entries: number; tasks: number }>;
  statements?: Map<string, Array<[string, number]>>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const yes = (met: boolean) => (met ? 'yes' : 'no');
/** CPU seconds of a run's own processes: everything but the rest of the machine's Postgres (other engineers' databases, shared background work). */
const ownCpu = (rows: Array<[string, number]>) => rows.filter(([label]) => label !== POSTGRES_REST).reduce((sum, [, seconds]) => sum + seconds, 0);

/**
 * `npm run bench -- fanout`: one request whose step fans out over `items` items, taken by `bots`
 * bots through the REST gateway (lease `max` 100 with a long poll, one complete-many per lease),
 * from before the POST until `GET /v1/requests/:id` says completed; then every item's events
 * are checked in the ledger. Beside it, graphile-worker adding the same number of jobs with
 * `add_jobs` and processing them (no-op task, concurrency `bots`) on the same Postgres, from the
 * first add to the last job done. Issue 24 asks for ≥ 0.5× graphile-worker.
 */
export async function fanoutBench(options: FanoutBenchOptions): Promise<void> {
  if (!Number.isInteger(options.pairs) || options.pairs < 1 || options.pairs % 2 === 0) {
    throw new Error(`--pairs takes an odd whole number (the median is then one of the pairs), not '${options.pairs}'`);
  }
  for (const key of ['items', 'bots', 'max', 'addChunk'] as const) {
    if (!Number.isInteger(options[key]) || options[key] < 1) throw new Error(`--${key} takes a whole number ≥ 1, not '${options[key]}'`);
  }
  const benchStarted = performance.now();
  process.stdout.write(`load average at start: ${loadAverage()}\n`);
  const bench = await benchInfra();
  if (options.peerOnly) {
    try {
      const peer = await graphileFanout(bench, options.items, options.bots, options.addChunk);
      if ('skipped' in peer) throw new Error(peer.skipped);
      printTable(`graphile-worker alone (--peer-only): ${options.items.toLocaleString('en-US')} jobs added and processed`, ['what', 'jobs', 'seconds', 'jobs/s'], [
        [`add_jobs ${options.addChunk} per call, concurrency ${options.bots} (no-op task); first add → last job done`, options.items, formatNumber(peer.seconds), peer.perSecond],
      ]);
      printTable('CPU seconds per 1,000 jobs, by process (graphile-worker runs inside the bench client)', ['process', 'graphile-worker'], peer.cpu.map(([label, seconds]) => [label, formatNumber(seconds)]));
    } finally {
      await bench.stop();
    }
    return;
  }
  const counting = statementCounting(options.statements);
  const statementsDir = counting.dir;
  const session = await gatewayStack(bench, 'fanout', { HMS_RATE_LIMIT_DISABLED: '1', ...counting.env });
  const { stack, bus, db, http } = session;
  try {
    const bots = await Promise.all(Array.from({ length: options.bots }, (_, w) => stack.workerToken([POOL], `bench-bot-${w}`)));
    await http.ok('POST', '/v1/plans', stack.managerToken, PLAN);
    const counters = statementsDir
      ? Object.values(stack.services).map((service) => ({ name: service.name, pid: service.pid!, dir: statementsDir }))
      : undefined;
    const ours = (items = options.items) => fanoutRun(http, db, bus, stack.serviceToken, bots, options, items, counters);
    const theirs = () => graphileFanout(bench, options.items, options.bots, options.addChunk);

    await ours(WARMUP_ITEMS).then(undefined, (error: Error) => {
      throw new Error(`the warm-up fan-out failed: ${error.message}`);
    });
    const pairs: Array<{ ours: FanoutRun; theirs: RunFigures | GraphileSkipped; oursFirst: boolean }> = [];
    for (let pair = 0; pair < options.pairs; pair += 1) {
      const oursFirst = pair % 2 === 0;
      const first = oursFirst ? await ours() : await theirs();
      const second = oursFirst ? await theirs() : await ours();
      const [o, t] = (oursFirst ? [first, second] : [second, first]) as [FanoutRun, RunFigures | GraphileSkipped];
      pairs.push({ ours: o, theirs: t, oursFirst });
      if ('skipped' in t) break;
    }
    const ratioOf = (pair: (typeof pairs)[number]) => ('skipped' in pair.theirs ? Number.NaN : pair.ours.perSecond / pair.theirs.perSecond);
    const judged = 'skipped' in pairs[0]!.theirs ? pairs[0]! : medianBy(pairs, ratioOf);
    const { ours: run, theirs: peer } = judged;
    const ratio = ratioOf(judged);
    const medianNote = pairs.length > 1 ? `, the pair with the median ratio of ${pairs.length}` : '';
    const n = options.items.toLocaleString('en-US');

    printTable(`Fan-out: one request of ${n} items to its completion, and graphile-worker on the same Postgres in the same run${medianNote}`, ['what', 'items', 'seconds', 'items/s', 'ratio'], [
      [`one request, forEach over ${n} items; ${options.bots} bots through the gateway, lease max ${options.max} (long poll ${options.waitSeconds} s), one complete-many per lease; POST → GET shows completed`, options.items, formatNumber(run.seconds), run.perSecond, '-'],
      'skipped' in peer
        ? [peer.skipped, '-', '-', '-', '-']
        : [`graphile-worker 0.16: add_jobs ${options.addChunk} per call, processed at concurrency ${options.bots} (no-op task); first add → last job done`, options.items, formatNumber(peer.seconds), peer.perSecond, `${formatNumber(ratio)}×`],
    ]);
    if (pairs.length > 1) {
      printTable(`Alternating pairs (judged: the median ratio)`, ['pair', 'first', 'ours items/s', 'graphile-worker jobs/s', 'ratio'], pairs.map((pair, i) => [
        `${i + 1}${pair === judged ? ' (median)' : ''}`,
        pair.oursFirst ? 'ours' : 'graphile-worker',
        pair.ours.perSecond,
        'skipped' in pair.theirs ? 'n/a' : pair.theirs.perSecond,
        `${formatNumber(ratioOf(pair))}×`,
      ]));
    }
    printTable(`Phases of our run (seconds from before the POST; OMS's and ACT's times are their services' clocks, to the millisecond)`, ['phase', 'seconds'], run.phases.map(([phase, seconds]) => [phase, formatNumber(seconds)]));
    const labels = [...new Set([...run.cpu, ...('skipped' in peer ? [] : peer.cpu)].map(([label]) => label))];
    const cell = (rows: Array<[string, number]>, label: string) => formatNumber(rows.find(([l]) => l === label)?.[1] ?? 0);
    const total = (rows: Array<[string, number]>) => formatNumber(ownCpu(rows));
    const counted = options.statements ? ' (statements counted: the services carry the counter, so these are not the run’s CPU figures)' : '';
    printTable(
      `CPU seconds per 1,000 items, by process, from /proc; ours counted until every event is consumed (ledger, OPS); graphile-worker runs inside the bench client${counted}`,
      ['process', 'ours', 'graphile-worker'],
      [...labels.map((label) => [label, cell(run.cpu, label), 'skipped' in peer ? '-' : cell(peer.cpu, label)]), [`total without ${POSTGRES_REST}`, total(run.cpu), 'skipped' in peer ? '-' : total(peer.cpu)]],
    );
    printTable(`Ledger of the measured request (every item's events, counted in act.ledger_entries after the run)`, ['event type', 'entries', 'distinct tasks'], run.ledger.map((row) => [row.type, row.entries.toLocaleString('en-US'), row.tasks.toLocaleString('en-US')]));
    if (run.statements) {
      const rows = statementRows(run.statements, options.items, TOP_STATEMENTS, formatNumber);
      printTable(`Statements per 1,000 items, by service (pg.Client#query calls during the run, busiest ${TOP_STATEMENTS} each)`, ['statement', 'per 1,000 items'], rows);
    }
    const cpuPerItemMs = ownCpu(run.cpu);
    printTable(`At the measured rate (linear extrapolation from this run, not a measurement)`, ['items', 'wall time', 'CPU, the run\'s processes'], [
      [CHAPTER_ITEMS.toLocaleString('en-US'), `${formatNumber(CHAPTER_ITEMS / run.perSecond / 60)} min`, `${formatNumber((cpuPerItemMs * CHAPTER_ITEMS) / 1000 / 3600)} CPU-hours`],
    ]);
    printTable('Targets (issue 24)', ['target', 'measured', 'met'], [
      ['fan-out items/s ≥ 0.5× graphile-worker add + process', Number.isNaN(ratio) ? 'peer not run' : `${formatNumber(ratio)}×`, Number.isNaN(ratio) ? 'n/a' : yes(ratio >= 0.5)],
      [`every item in the ledger (completed entries for ${n} distinct tasks)`, (run.ledger.find((row) => row.type === 'oms.task.completed')?.tasks ?? 0).toLocaleString('en-US'), yes((run.ledger.find((row) => row.type === 'oms.task.completed')?.tasks ?? 0) === options.items)],
    ]);
    process.stdout.write(`\ncalls answered 503 and retried: ${run.retried.unavailable}; items a retried complete-many answered as failed: ${run.retried.itemErrors}\n`);
    process.stdout.write(`request ${run.requestId}; bench wall time: ${formatNumber((performance.now() - benchStarted) / 1000)} s; load average now ${loadAverage()}\n`);
  } finally {
    await session.close();
    await bench.stop();
    counting.close();
  }
}

/**
 * One fan-out: the bots park in long polls, the request `{count: items}` is created, the bots
 * lease and complete until every item is taken, and the request is polled until it ended. The
 * figure is from before the POST to the poll that saw it completed; then, untimed, the bench
 * waits until every event is consumed and reads the ledger and both services' clocks.
 */
async function fanoutRun(
  http: BenchHttp,
  db: Client,
  bus: NatsBus,
  serviceToken: string,
  bots: string[],
  options: FanoutBenchOptions,
  items: number,
  counters: CountedProcess[] | undefined,
): Promise<FanoutRun> {
  const statementsBefore = counters && (await statementCounts(counters));
  const cpuBefore = cpuSnapshot();
  let leased = 0;
  let firstLeaseAt: number | undefined;
  let ended = false;
  let botFailure: Error | undefined;
  const retried = { unavailable: 0, itemErrors: 0 };
  /** A bot's call: a 503 ("try again shortly", a busy database) is retried after a pause, as a real bot would; anything else stops the run. */
  const botCall = async <T>(path: string, token: string, body: unknown): Promise<{ body: T; retried: boolean }> => {
    for (let attempt = 0; ; attempt += 1) {
      const res = await http.call<T>('POST', path, token, body);
      if (res.status >= 200 && res.status <= 299) return { body: res.body, retried: attempt > 0 };
      if (res.status !== 503 || attempt >= BOT_RETRIES) throw new Error(`POST ${path} answered ${res.status}: ${JSON.stringify(res.body)}`);
      retried.unavailable += 1;
      await sleep(250 * (attempt + 1));
    }
  };
  const wallStart = Date.now();
  const started = performance.now();
  const loops = bots.map(async (token) => {
    // Until the request ended, not until `items` were leased: an item whose complete was lost
    // comes back when its lease expires.
    while (!ended) {
      const { body } = await botCall<{ tasks: LeasedItem[] }>(`/v1/pools/${POOL}/lease`, token, { max: options.max, waitSeconds: options.waitSeconds });
      if (body.tasks.length === 0) continue;
      firstLeaseAt ??= performance.now();
      leased += body.tasks.length;
      const completed = await botCall<{ results: Array<{ error?: unknown }> }>('/v1/tasks/complete', token, {
        items: body.tasks.map((task) => ({ taskId: task.id, leaseToken: task.leaseToken, output: { ok: true } })),
      });
      const failed = completed.body.results.filter((result) => result.error);
      // After a retried call the first may have committed: its items then answer as already
      // done, which the ledger check at the end confirms or refutes.
      if (failed.length > 0 && !completed.retried) throw new Error(`complete-many failed for an item: ${JSON.stringify(failed[0])}`);
      retried.itemErrors += failed.length;
    }
  }).map((loop) =>
    loop.catch((error: Error) => {
      botFailure ??= error;
      ended = true;
    }),
  );
  // The bots are parked (or about to be) before the POST: a fan-out's first items are then
  // taken as soon as they are queued, as by a fleet that is already running.
  await sleep(50);
  const created = await http.ok<{ id: string }>('POST', '/v1/requests', serviceToken, { plan: PLAN.id, payload: { count: items } });
  const postAnswered = performance.now();
  let status = 'running';
  try {
    for (;;) {
      const res = await http.call<{ status: string }>('GET', `/v1/requests/${created.id}`, serviceToken);
      if (botFailure) throw new Error(`a bot stopped: ${botFailure.message}`);
      if (res.status === 503) retried.unavailable += 1;
      else if (res.status !== 200) throw new Error(`GET /v1/requests/${created.id} answered ${res.status}: ${JSON.stringify(res.body)}`);
      else ({ status } = res.body);
      if (status !== 'running') break;
      await sleep(POLL_MS);
    }
  } finally {
    ended = true;
  }
  const completedAt = performance.now();
  if (status !== 'completed') throw new Error(`request ${created.id} ended ${status}, not completed (leased ${leased} of ${items} items)`);
  await Promise.all(loops); // the last long polls return within waitSeconds
  await waitForQuiet(db, bus);
  const quietAt = performance.now();
  const cpu = cpuBreakdown(cpuBefore, cpuSnapshot(), items);
  const statementsAfter = counters && (await statementCounts(counters));
  const seconds = (completedAt - started) / 1000;

  const { rows: queued } = await db.query<{ first: Date | null; last: Date | null; tasks: string }>(
    'SELECT min(queued_at) AS first, max(queued_at) AS last, count(*) AS tasks FROM oms.tasks WHERE request_id = $1',
    [created.id],
  );
  const { rows: request } = await db.query<{ completed_at: Date | null }>('SELECT completed_at FROM act.requests WHERE id = $1', [created.id]);
  // `at` of an event is when its service wrote it: for act.step.ready, when ACT's fan-out job emitted the item.
  const { rows: ledger } = await db.query<{ type: string; entries: string; tasks: string; first: Date; last: Date }>(
    `SELECT type, count(*) AS entries, count(DISTINCT data->>'taskId') AS tasks, min(at) AS first, max(at) AS last
       FROM act.ledger_entries WHERE request_id = $1 GROUP BY type ORDER BY type`,
    [created.id],
  );
  const ready = ledger.find((row) => row.type === 'act.step.ready');
  const sinceStart = (at: Date | null | undefined) => (at ? (at.getTime() - wallStart) / 1000 : Number.NaN);
  const completedTasks = Number(ledger.find((row) => row.type === 'oms.task.completed')?.tasks ?? 0);
  if (completedTasks !== items || Number(queued[0]?.tasks) !== items) {
    throw new Error(`request ${created.id}: ${queued[0]?.tasks} tasks in OMS and ${completedTasks} completed in the ledger, for ${items} items`);
  }
  return {
    requestId: created.id,
    retried,
    perSecond: items / seconds,
    seconds,
    cpu,
    phases: [
      ['POST /v1/requests answered', (postAnswered - started) / 1000],
      ['first item emitted by ACT (its act.step.ready)', sinceStart(ready?.first)],
      ['first item queued in OMS (queued_at)', sinceStart(queued[0]?.first)],
      ['first lease answered with items', firstLeaseAt === undefined ? Number.NaN : (firstLeaseAt - started) / 1000],
      [`last of ${items.toLocaleString('en-US')} items emitted by ACT (act.step.ready)`, sinceStart(ready?.last)],
      [`last of ${items.toLocaleString('en-US')} items queued in OMS (queued_at)`, sinceStart(queued[0]?.last)],
      ['request completed in ACT (completed_at)', sinceStart(request[0]?.completed_at)],
      ['GET /v1/requests/:id shows completed (the figure)', seconds],
      ['every event relayed and consumed: ledger, OPS (polled every 200 ms)', (quietAt - started) / 1000],
    ],
    ledger: ledger.map((row) => ({ type: row.type, entries: Number(row.entries), tasks: Number(row.tasks) })),
    statements: statementsAfter && statementsBetween(statementsBefore, statementsAfter),
  };
}

/**
 * The peer: graphile-worker's runner (concurrency `concurrency`, no-op task) is started idle,
 * then `items` jobs are added with `add_jobs` (what `addJobs` of later versions calls), `chunk`
 * per call, 2 calls in flight, while it already processes them; from the first add until the
 * jobs table is empty (its completions are batched, so the task function's last call is not yet
 * the end).
 */
function graphileFanout(bench: BenchInfra, items: number, concurrency: number, chunk: number): Promise<RunFigures | GraphileSkipped> {
  return withGraphile(bench, concurrency + 4, async (gw, pgPool, db, logger) => {
    let done = 0;
    const runner = await startGraphileRunner(gw, pgPool, logger, concurrency, 1000, async () => void (done += 1));
    try {
      await sleep(200); // let the runner LISTEN and go idle, as our bots are parked
      const calls = Array.from({ length: Math.ceil(items / chunk) }, (_, c) => Array.from({ length: Math.min(chunk, items - c * chunk) }, (_, i) => ({ item: c * chunk + i })));
      const cpuBefore = cpuSnapshot();
      const started = performance.now();
      await mapConcurrent(calls, 2, (payloads) => addGraphileJobs(pgPool, payloads));
      for (;;) {
        const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM graphile_worker.jobs');
        if (Number(rows[0]!.n) === 0 && done >= items) break;
        await sleep(5);
      }
      const seconds = (performance.now() - started) / 1000;
      return { perSecond: items / seconds, seconds, cpu: cpuBreakdown(cpuBefore, cpuSnapshot(), items) };
    } finally {
      await runner.stop();
    }
  });
}
