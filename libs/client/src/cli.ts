#!/usr/bin/env node
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { Argument, Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { AlertStatus, CompleteTaskResult, PlanDefinition, RequestStatus, Role, ServiceName, TaskStatus } from '@hms/contracts';
import { forPeople } from './cli-format';
import { HmsApiError } from './hms-api-error';
import { HmsClient } from './hms-client';
import { TERMINAL_REQUEST_STATUSES, type CreateRequestItem, type CreateRequestsItemAnswer, type ListAlertsFilter, type ListRequestsFilter, type ListTasksFilter, type PoolSettings } from './types';
import { Pool, type WorkItem } from './worker';

/** The gateway `hms` talks to when neither `--url` nor `HMS_URL` says otherwise. */
export const DEFAULT_URL = 'http://localhost:3000';

/** Everything the CLI touches outside itself, so tests can run it in-process. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Record<string, string | undefined>;
  /** Passed to {@link HmsClient}; the global fetch when absent. */
  fetch?: typeof fetch;
  readFile: (path: string) => Promise<string>;
  /** Records the process exit code (tests must not touch the real one). */
  setExitCode: (code: number) => void;
  /** Whether stdout is a terminal: then answers are shown as tables, unless `--json`. */
  isTTY: boolean;
}

/** A mistake in the command line itself, reported with code USAGE. */
export class CliUsageError extends Error {
  readonly code = 'USAGE';
}

interface GlobalOptions {
  url?: string;
  token?: string;
  json?: boolean;
}

// The package's own manifest (exported as `@hms/client/package.json`), wherever the CLI runs from.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const VERSION = (require('@hms/client/package.json') as { version: string }).version;

/** The columns a person sees for each kind of list (the JSON has every field). */
const COLUMNS = {
  plans: ['id', 'latestVersion', 'title', 'updatedAt'],
  requests: ['id', 'plan', 'version', 'status', 'reference', 'createdAt', 'slaDueAt'],
  ledger: ['seq', 'at', 'type', 'actor'],
  pools: ['pool', 'kind', 'leaseSeconds', 'maxLeaseSeconds', 'slaMinutes', 'maxAttempts', 'workerLivenessSeconds', 'autoscale', 'escalation'],
  queue: ['id', 'requestId', 'stepId', 'title', 'priority', 'slaDueAt', 'queuedAt'],
  tasks: ['id', 'pool', 'stepId', 'status', 'attempt', 'worker', 'slaDueAt', 'updatedAt'],
  metrics: ['pool', 'depth', 'leased', 'oldestWaitSeconds', 'waitP50Seconds', 'waitP95Seconds', 'throughputPerMinute', 'successRate', 'workersOnline', 'desiredReplicas'],
  scaling: ['at', 'pool', 'queued', 'current', 'desired', 'applied', 'reason'],
  alerts: ['id', 'kind', 'status', 'pool', 'requestId', 'raisedAt', 'message'],
  parked: ['id', 'consumer', 'type', 'requestId', 'deliveryCount', 'parkedAt', 'lastError'],
} as const;

const ROLES: readonly Role[] = ['manager', 'worker', 'service'];
const REQUEST_STATUSES: readonly RequestStatus[] = ['running', ...TERMINAL_REQUEST_STATUSES];
// Spelled out: the contracts' AlertStatuses is a value, and the CLI takes only types from there.
const ALERT_STATUSES: readonly AlertStatus[] = ['open', 'acknowledged', 'resolved'];
const SERVICES: readonly ServiceName[] = ['act', 'oms', 'ops'];
const TASK_STATUSES: readonly TaskStatus[] = ['queued', 'leased', 'completed', 'dead', 'cancelled'];

interface PoolSetOptions {
  kind?: 'human' | 'bot';
  leaseSeconds?: number;
  maxLeaseSeconds?: number;
  slaMinutes?: number;
  maxAttempts?: number;
  workerLivenessSeconds?: number;
  autoscale?: Record<string, unknown>;
  escalation?: Record<string, unknown>;
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

function parseJsonOption(label: string): (value: string) => Record<string, unknown> {
  return (value) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch (error) {
      throw new InvalidArgumentError(`${label} is not valid JSON (${(error as Error).message})`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InvalidArgumentError(`${label} must be a JSON object`);
    return parsed as Record<string, unknown>;
  };
}

/** Items per batch call, and the body bytes a call stays under (the gateway's default limit is 512 KiB). */
const CREATE_BATCH_ITEMS = 1000;
const CREATE_BATCH_BYTES = 256 * 1024;

/**
 * `request create --file`: each non-empty line of `text` is one create body, sent with
 * `requests.createMany` in calls of at most {@link CREATE_BATCH_ITEMS} items and
 * {@link CREATE_BATCH_BYTES} bytes; the answers, one per line in order, with their line numbers.
 */
async function createFromFile(client: HmsClient, text: string): Promise<{ results: Array<{ line: number } & CreateRequestsItemAnswer> }> {
  const lines = text.split('\n').map((content, index) => ({ content: content.trim(), line: index + 1 })).filter(({ content }) => content.length > 0);
  const items = lines.map(({ content, line }) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(content);
    } catch (error) {
      throw new InvalidArgumentError(`line ${line} of --file is not valid JSON (${(error as Error).message})`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InvalidArgumentError(`line ${line} of --file must be a JSON object`);
    return { item: parsed as CreateRequestItem, line, bytes: Buffer.byteLength(content) + 1 };
  });
  if (items.length === 0) throw new InvalidArgumentError('--file holds no requests');
  const results: Array<{ line: number } & CreateRequestsItemAnswer> = [];
  for (let start = 0; start < items.length; ) {
    let end = start;
    let bytes = 0;
    while (end < items.length && end - start < CREATE_BATCH_ITEMS && (end === start || bytes + items[end].bytes <= CREATE_BATCH_BYTES)) bytes += items[end++].bytes;
    const batch = items.slice(start, end);
    const answer = await client.requests.createMany(batch.map(({ item }) => item));
    answer.results.forEach((result, i) => results.push({ line: batch[i].line, ...result }));
    start = end;
  }
  return { results };
}

function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive whole number');
  return n;
}

function parseNonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number, 0 or more');
  return n;
}

function parseList(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

/**
 * `hms token` signs with the repository's @hms/platform, loaded only then: it brings Nest, NATS
 * and TypeORM, which no other command needs, and it is not part of the published package.
 */
function loadPlatform(): typeof import('@hms/platform') {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('@hms/platform') as typeof import('@hms/platform');
  } catch (error) {
    if ((error as { code?: string }).code !== 'MODULE_NOT_FOUND') throw error;
    throw new CliUsageError('hms token signs with the HMS repository (@hms/platform): run it from a checkout, or use a token your identity provider issued');
  }
}

function parseInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('must be a whole number');
  return n;
}

function parsePositiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a number above 0');
  return n;
}

/** One line, as the contract promises scripts: `CODE message` plus any per-field details. */
function describeError(error: unknown): string {
  if (error instanceof HmsApiError) {
    const details = error.details.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join('; ');
    return `${error.code} ${error.message}${details ? ` (${details})` : ''}`;
  }
  const code = typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : 'ERROR';
  const message = error instanceof Error ? error.message : String(error);
  return `${code} ${message}`;
}

/**
 * Builds the `hms` program. Nothing is parsed here; call `parseAsync(argv)` on the result.
 * Commander's own usage errors still print `error: …` and exit through `exitOverride`, which
 * throws a CommanderError instead of ending the process.
 */
export function buildCli(overrides: Partial<CliIo> = {}): Command {
  const io: CliIo = {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    readFile: (path) => readFile(path, 'utf8'),
    setExitCode: (code) => {
      process.exitCode = code;
    },
    isTTY: process.stdout.isTTY === true,
    ...overrides,
  };

  const program = new Command('hms');
  // Set before any subcommand exists: commander copies these settings into each one it creates.
  program
    .description('HMS Management Layer command line: plans, requests, pools, work and tokens')
    .option('--url <url>', `gateway URL (env HMS_URL, default ${DEFAULT_URL})`)
    .option('--token <jwt>', 'bearer token (env HMS_TOKEN)')
    .option('--json', 'print answers as JSON (the default when stdout is not a terminal)')
    .version(VERSION, '-V, --version', 'print the version of hms')
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');

  const client = (command: Command): HmsClient => {
    const globals = command.optsWithGlobals<GlobalOptions>();
    const token = globals.token ?? io.env.HMS_TOKEN;
    return new HmsClient({
      baseUrl: globals.url ?? io.env.HMS_URL ?? DEFAULT_URL,
      ...(token ? { token } : {}),
      ...(io.fetch ? { fetch: io.fetch } : {}),
    });
  };

  /** Whether answers go to a person (a terminal, no `--json`) rather than to a script. */
  const forPerson = (command: Command): boolean => io.isTTY && !command.optsWithGlobals<GlobalOptions>().json;

  /**
   * Runs an action, printing its result (a table with `columns` for a person, JSON for a script),
   * or its error as one line with exit code 1.
   */
  const action =
    <A extends unknown[]>(run: (...args: A) => Promise<unknown>, columns?: readonly string[]) =>
    async (...args: A): Promise<void> => {
      try {
        const result = await run(...args);
        // Commander passes the command last.
        const person = forPerson(args[args.length - 1] as Command);
        if (result !== undefined) io.stdout(typeof result === 'string' ? `${result}\n` : person ? forPeople(result, columns) : json(result));
      } catch (error) {
        io.stderr(`error: ${describeError(error).replace(/\s*\n\s*/g, ' ')}\n`);
        io.setExitCode(1);
      }
    };

  program
    .command('token')
    .description('print a signed HS256 access token (for dev stacks and tests)')
    .addOption(new Option('--role <role>', 'the role claim').choices(ROLES).makeOptionMandatory())
    .option('--pools <list>', 'comma-separated pools a worker may lease from', parseList)
    .option('--sub <name>', 'the subject (actor recorded in the ledger); default cli-<role>')
    .option('--secret <secret>', 'HS256 secret (env HMS_JWT_SECRET)')
    .option('--ttl <period>', 'lifetime, e.g. 30m, 12h, 7d, or seconds', '12h')
    .action(
      action(async (opts: { role: Role; pools?: string[]; sub?: string; secret?: string; ttl: string }) => {
        const secret = opts.secret ?? io.env.HMS_JWT_SECRET;
        if (!secret) throw new CliUsageError('no signing secret: pass --secret or set HMS_JWT_SECRET');
        // jose reads a bare number as an absolute expiry timestamp, so plain seconds get a unit.
        const ttl = /^\d+$/.test(opts.ttl.trim()) ? `${opts.ttl.trim()}s` : opts.ttl;
        const { signToken } = loadPlatform();
        try {
          return await signToken(
            { sub: opts.sub ?? `cli-${opts.role}`, roles: [opts.role], ...(opts.pools?.length ? { pools: opts.pools } : {}) },
            secret,
            ttl,
          );
        } catch (error) {
          throw new CliUsageError(`cannot sign the token: ${(error as Error).message}`);
        }
      }),
    );

  const plan = program.command('plan').description('workflow definitions');
  plan
    .command('register')
    .description('register a plan from a .yaml/.yml or .json file (canonical or a seed dialect)')
    .argument('<file>', 'plan file')
    .option('--id <id>', 'the plan id, for a file that has none')
    .action(
      action(async (file: string, opts: { id?: string }, command: Command) => {
        const source = await io.readFile(file);
        const options = opts.id === undefined ? {} : { id: opts.id };
        if (extname(file).toLowerCase() === '.json') {
          let definition: unknown;
          try {
            definition = JSON.parse(source);
          } catch (error) {
            throw new CliUsageError(`${file} is not valid JSON: ${(error as Error).message}`);
          }
          return client(command).plans.register(definition as PlanDefinition, options);
        }
        // Anything else goes as YAML: the server parses it, and reports problems per path.
        return client(command).plans.register(source, options);
      }),
    );
  plan
    .command('list')
    .description('list plans with their latest version')
    .action(action(async (_opts: unknown, command: Command) => client(command).plans.list(), COLUMNS.plans));
  plan
    .command('get')
    .description('show a plan (latest version unless --version)')
    .argument('<id>')
    .option('--version <n>', 'plan version', parsePositiveInt)
    .action(action(async (id: string, opts: { version?: number }, command: Command) => client(command).plans.get(id, opts.version)));

  const request = program.command('request').description('requests (instances of plans)');
  request
    .command('create')
    .description('start a request of a plan, or with --file one per line of an NDJSON file (in batch calls of up to 1,000)')
    .argument('[plan]', 'plan id (not with --file)')
    .option('--payload <json>', 'the request payload (JSON object)', parseJsonOption('--payload'))
    .option('--reference <ref>', 'your own id for the ticket')
    .option('--version <n>', 'plan version (default latest)', parsePositiveInt)
    .option('--priority <n>', 'added to every step priority', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n)) throw new InvalidArgumentError('must be a whole number');
      return n;
    })
    .option('--sla-minutes <n>', 'overrides the plan SLA', parsePositiveInt)
    .option('--idempotency-key <key>', 'repeat-safe key (same key + body returns the same request)')
    .option('--file <path>', 'NDJSON: one create body per line ({plan, payload, reference, version, priority, slaMinutes, idempotencyKey}); prints one answer per line')
    .action(
      action(
        async (
          planId: string | undefined,
          opts: { payload?: Record<string, unknown>; reference?: string; version?: number; priority?: number; slaMinutes?: number; idempotencyKey?: string; file?: string },
          command: Command,
        ) => {
          if (opts.file !== undefined) {
            if (planId !== undefined) throw new InvalidArgumentError('give the plan in each line of --file, not as an argument');
            const answer = await createFromFile(client(command), await io.readFile(opts.file));
            // Scripts see a partly failed file in the exit code; the answers say which lines.
            if (answer.results.some((result) => result.error)) io.setExitCode(1);
            return answer;
          }
          if (planId === undefined) throw new InvalidArgumentError('a plan id (or --file) is required');
          return client(command).requests.create(
            {
              plan: planId,
              payload: opts.payload ?? {},
              ...(opts.version !== undefined ? { version: opts.version } : {}),
              ...(opts.reference !== undefined ? { reference: opts.reference } : {}),
              ...(opts.priority !== undefined ? { priority: opts.priority } : {}),
              ...(opts.slaMinutes !== undefined ? { slaMinutes: opts.slaMinutes } : {}),
            },
            opts.idempotencyKey ? { idempotencyKey: opts.idempotencyKey } : {},
          );
        },
      ),
    );
  request
    .command('get')
    .description('show a request with its steps')
    .argument('<id>')
    .action(action(async (id: string, _opts: unknown, command: Command) => client(command).requests.get(id)));
  request
    .command('list')
    .description('list requests (one page)')
    .option('--plan <id>')
    .addOption(new Option('--status <status>').choices(REQUEST_STATUSES))
    .option('--reference <ref>')
    .option('--cursor <cursor>')
    .option('--limit <n>', 'page size', parsePositiveInt)
    .action(
      action(async (opts: ListRequestsFilter, command: Command) => client(command).requests.list(opts), COLUMNS.requests),
    );
  request
    .command('history')
    .description('print the whole ledger of a request, oldest first')
    .argument('<id>')
    .action(
      action(async (id: string, _opts: unknown, command: Command) => {
        const entries: unknown[] = [];
        for await (const entry of client(command).requests.historyAll(id)) entries.push(entry);
        return entries;
      }, COLUMNS.ledger),
    );
  request
    .command('verify')
    .description("re-check a request's hash-chained ledger")
    .argument('<id>')
    .action(action(async (id: string, _opts: unknown, command: Command) => client(command).requests.verify(id)));
  request
    .command('cancel')
    .description('cancel a running request')
    .argument('<id>')
    .option('--reason <text>')
    .action(action(async (id: string, opts: { reason?: string }, command: Command) => client(command).requests.cancel(id, opts.reason)));

  const pool = program.command('pool').description('pools (lanes)');
  pool
    .command('peek')
    .description('show the head of a queue without leasing')
    .argument('<pool>')
    .option('--limit <n>', 'tasks to show', parsePositiveInt)
    .action(action(async (name: string, opts: { limit?: number }, command: Command) => client(command).pools.peek(name, opts.limit), COLUMNS.queue));
  pool
    .command('list')
    .description('list pools')
    .action(action(async (_opts: unknown, command: Command) => client(command).pools.list(), COLUMNS.pools));
  pool
    .command('get')
    .description('show a pool')
    .argument('<pool>')
    .action(action(async (name: string, _opts: unknown, command: Command) => client(command).pools.get(name)));
  pool
    .command('set')
    .description('create a pool or change its settings; settings not given keep their value (a new pool needs --kind)')
    .argument('<pool>')
    .addOption(new Option('--kind <kind>', 'who works it').choices(['human', 'bot']))
    .option('--lease-seconds <n>', 'default lease length', parsePositiveInt)
    .option('--max-lease-seconds <n>', 'the longest lease or heartbeat extension a caller may ask for', parsePositiveInt)
    .option('--sla-minutes <n>', 'SLA of tasks queued from now on', parsePositiveNumber)
    .option('--max-attempts <n>', 'attempts before a task is dead', parsePositiveInt)
    .option('--worker-liveness-seconds <n>', 'a silent worker is gone after this long', parsePositiveInt)
    .option('--autoscale <json>', 'autoscale policy {tasksPerReplica, minReplicas, maxReplicas, cooldownSeconds?, target?}', parseJsonOption('--autoscale'))
    .option('--escalation <json>', 'escalation policy {webhook?, pool?, afterMinutes?}', parseJsonOption('--escalation'))
    .action(
      action(async (name: string, opts: PoolSetOptions, command: Command) => {
        const hms = client(command);
        const current = await hms.pools.get(name).catch((error: unknown) => {
          if (error instanceof HmsApiError && error.code === 'NOT_FOUND') return undefined;
          throw error;
        });
        const kind = opts.kind ?? current?.kind;
        if (!kind) throw new CliUsageError(`pool ${name} does not exist yet: give its --kind (human or bot)`);
        // PUT replaces the settings, so the current ones are sent again unless changed here.
        const settings: PoolSettings = {
          kind,
          // maxLeaseSeconds shows its effective value, and its default is a constant: sending it back changes nothing.
          ...(current ? { leaseSeconds: current.leaseSeconds, maxLeaseSeconds: current.maxLeaseSeconds, maxAttempts: current.maxAttempts } : {}),
          ...(current?.slaMinutes != null ? { slaMinutes: current.slaMinutes } : {}),
          ...(current?.autoscale ? { autoscale: current.autoscale } : {}),
          ...(current?.escalation ? { escalation: current.escalation } : {}),
          ...(opts.leaseSeconds !== undefined ? { leaseSeconds: opts.leaseSeconds } : {}),
          ...(opts.maxLeaseSeconds !== undefined ? { maxLeaseSeconds: opts.maxLeaseSeconds } : {}),
          ...(opts.slaMinutes !== undefined ? { slaMinutes: opts.slaMinutes } : {}),
          ...(opts.maxAttempts !== undefined ? { maxAttempts: opts.maxAttempts } : {}),
          ...(opts.workerLivenessSeconds !== undefined ? { workerLivenessSeconds: opts.workerLivenessSeconds } : {}),
          ...(opts.autoscale !== undefined ? { autoscale: opts.autoscale as unknown as PoolSettings['autoscale'] } : {}),
          ...(opts.escalation !== undefined ? { escalation: opts.escalation as PoolSettings['escalation'] } : {}),
        };
        return hms.pools.put(name, settings);
      }),
    );
  pool
    .command('sla')
    .description('change the SLA of the tasks queued in a pool from now on')
    .argument('<pool>')
    .argument('<minutes>', 'the SLA in minutes', parsePositiveNumber)
    .action(action(async (name: string, minutes: number, _opts: unknown, command: Command) => client(command).pools.setSla(name, minutes)));
  pool
    .command('reroute')
    .description('move the queued tasks of a pool that match the filters to another pool (at most --limit; repeat while `more`)')
    .argument('<pool>')
    .requiredOption('--to <pool>', 'the pool the tasks move to')
    .option('--tags <list>', 'only tasks with all these tags', parseList)
    .option('--step <id>', 'only tasks of this step')
    .option('--min-priority <n>', 'only tasks of at least this priority', parseInteger)
    .option('--max-priority <n>', 'only tasks of at most this priority', parseInteger)
    .option('--limit <n>', 'most tasks moved by this call', parsePositiveInt)
    .option('--reason <text>', 'recorded with each move')
    .action(
      action(async (name: string, opts: { to: string; tags?: string[]; step?: string; minPriority?: number; maxPriority?: number; limit?: number; reason?: string }, command: Command) =>
        client(command).pools.reroute(name, {
          toPool: opts.to,
          ...(opts.tags ? { tags: opts.tags } : {}),
          ...(opts.step !== undefined ? { stepId: opts.step } : {}),
          ...(opts.minPriority !== undefined ? { minPriority: opts.minPriority } : {}),
          ...(opts.maxPriority !== undefined ? { maxPriority: opts.maxPriority } : {}),
          ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
          ...(opts.reason !== undefined ? { reason: opts.reason } : {}),
        }),
      ),
    );

  const task = program.command('task').description('tasks (one step of one request, queued in a pool)');
  task
    .command('get')
    .description('show a task with its payload and input (a worker: only a task it holds the lease of)')
    .argument('<id>')
    .action(action(async (id: string, _opts: unknown, command: Command) => client(command).tasks.get(id)));
  task
    .command('list')
    .description('list tasks (one page)')
    .option('--pool <pool>')
    .addOption(new Option('--status <status>').choices(TASK_STATUSES))
    .option('--request-id <id>')
    .option('--worker <id>')
    .option('--cursor <cursor>')
    .option('--limit <n>', 'page size', parsePositiveInt)
    .action(action(async (opts: ListTasksFilter, command: Command) => client(command).tasks.list(opts), COLUMNS.tasks));
  task
    .command('reroute')
    .description('move one task to another pool (its lease, if any, is revoked)')
    .argument('<id>')
    .argument('<pool>', 'the pool it moves to')
    .option('--reason <text>', 'recorded with the move')
    .action(action(async (id: string, toPool: string, opts: { reason?: string }, command: Command) => client(command).tasks.reroute(id, toPool, opts.reason)));
  task
    .command('release')
    .description('give a leased task back to its queue, attempt not counted (without --lease-token: a force-release, managers only)')
    .argument('<id>')
    .option('--lease-token <token>', 'the lease token of the task')
    .action(action(async (id: string, opts: { leaseToken?: string }, command: Command) => client(command).tasks.release(id, opts.leaseToken)));

  program
    .command('work')
    .description('lease tasks of a pool and complete each with the same output (smoke tests, demos)')
    .argument('<pool>')
    .requiredOption('--worker <id>', 'worker id')
    .option('--tags <list>', "comma-separated worker tags", parseList)
    .option('--output <json>', 'output of every task (JSON object)', parseJsonOption('--output'))
    .option('--count <n>', 'tasks to complete', parsePositiveInt, 1)
    .option('--wait <seconds>', 'long-poll per lease, 0..30', parseNonNegativeInt, 20)
    .action(
      action(
        async (
          name: string,
          opts: { worker: string; tags?: string[]; output?: Record<string, unknown>; count: number; wait: number },
          command: Command,
        ) => {
          const worker = new Pool(name, client(command)).login(opts.worker, opts.tags ? { tags: opts.tags } : {});
          // Leased in the answer of the last complete, while more are wanted: one call per task.
          let carried: WorkItem | null = null;
          for (let done = 0; done < opts.count; done++) {
            const item = carried ?? (await worker.nextTask({ waitSeconds: Math.min(30, opts.wait) }));
            if (!item) {
              io.stderr(`no task in pool ${name} within ${opts.wait}s; completed ${done} of ${opts.count}\n`);
              return undefined;
            }
            let result: CompleteTaskResult;
            if (done + 1 < opts.count) ({ result, next: carried } = await worker.completeAndLeaseNext(item, opts.output ?? {}));
            else result = await item.complete(opts.output ?? {});
            const task = { id: item.id, requestId: item.requestId, stepId: item.stepId, title: item.title, attempt: item.attempt, payload: item.payload };
            io.stdout(forPerson(command) ? `${result.status} task ${item.id} (${item.stepId}: ${item.title}) of request ${item.requestId}\n` : json({ task, result }));
          }
          return undefined;
        },
      ),
    );

  program
    .command('metrics')
    .description('per-pool metrics snapshot; with --watch, one JSON line per pool every second until interrupted')
    .option('--watch', 'follow GET /v1/metrics/stream')
    .option('--pool <pool>', 'only this pool')
    .option('--count <n>', 'with --watch: stop after this many snapshots', parsePositiveInt)
    .action(
      action(async (opts: { watch?: boolean; pool?: string; count?: number }, command: Command) => {
        if (!opts.watch) {
          const result = await client(command).metrics.pools();
          return opts.pool === undefined ? result : { pools: result.pools.filter((snapshot) => snapshot.pool === opts.pool) };
        }
        let seen = 0;
        for await (const item of client(command).metrics.stream({ pool: opts.pool })) {
          io.stdout(`${JSON.stringify(item.event === 'pool' ? item.snapshot : { error: item.error })}\n`);
          if (item.event === 'pool' && opts.count !== undefined && ++seen >= opts.count) break;
        }
        return undefined;
      }, COLUMNS.metrics),
    );

  program
    .command('scaling')
    .description("OPS's autoscaling decisions, newest first (one page)")
    .option('--pool <pool>')
    .option('--cursor <cursor>')
    .option('--limit <n>', 'page size', parsePositiveInt)
    .action(action(async (opts: { pool?: string; cursor?: string; limit?: number }, command: Command) => client(command).scaling.decisions(opts), COLUMNS.scaling));

  const alert = program.command('alert').description('SLA and dead-task alerts');
  alert
    .command('list')
    .description('list alerts, newest first (one page)')
    .addOption(new Option('--status <status>').choices(ALERT_STATUSES))
    .option('--pool <pool>')
    .option('--request-id <id>')
    .option('--cursor <cursor>')
    .option('--limit <n>', 'page size', parsePositiveInt)
    .action(action(async (opts: ListAlertsFilter, command: Command) => client(command).alerts.list(opts), COLUMNS.alerts));
  alert
    .command('ack')
    .description('acknowledge an alert (its escalation, if not yet run, no longer runs)')
    .argument('<id>')
    .action(action(async (id: string, _opts: unknown, command: Command) => client(command).alerts.ack(id)));
  alert
    .command('resolve')
    .description('resolve an alert by hand')
    .argument('<id>')
    .option('--reason <text>')
    .action(action(async (id: string, opts: { reason?: string }, command: Command) => client(command).alerts.resolve(id, opts.reason)));

  const parked = program.command('parked').description('events a service gave up on after its delivery limit (managers)');
  parked
    .command('list')
    .description("list a service's parked events, newest first (one page): type, data, last error")
    .addArgument(new Argument('<service>').choices(SERVICES))
    .option('--cursor <cursor>')
    .option('--limit <n>', 'page size', parsePositiveInt)
    .action(action(async (service: ServiceName, opts: { cursor?: string; limit?: number }, command: Command) => client(command).parkedEvents.list(service, opts), COLUMNS.parked));
  parked
    .command('replay')
    .description("run a parked event through its consumer again (once its cause is fixed); exit code 1 if it failed again")
    .addArgument(new Argument('<service>').choices(SERVICES))
    .argument('<id>', 'the parked event id (from `hms parked list`)')
    .action(
      action(async (service: ServiceName, id: string, _opts: unknown, command: Command) => {
        const result = await client(command).parkedEvents.replay(service, id);
        if (!result.replayed) io.setExitCode(1);
        return result;
      }),
    );

  return program;
}

/** Runs `hms` on an argv (node-style, with the node and script entries) and returns the exit code. */
export async function runCli(argv: readonly string[], overrides: Partial<CliIo> = {}): Promise<number> {
  let exitCode = 0;
  const program = buildCli({ ...overrides, setExitCode: (code) => (exitCode = code) });
  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    // Commander has already printed usage errors and help; only the code is left to pass on.
    if (error instanceof CommanderError) return error.exitCode;
    throw error;
  }
  return exitCode;
}

/**
 * Runs `hms` as a process: sets the exit code instead of calling `process.exit`, so pending
 * output is flushed. Used when this file is run directly and by the `bin/hms.js` launcher.
 */
export async function main(argv: readonly string[] = process.argv): Promise<void> {
  try {
    process.exitCode = await runCli(argv);
  } catch (error) {
    process.stderr.write(`error: ${describeError(error)}\n`);
    process.exitCode = 1;
  }
}

if (require.main === module) void main();
