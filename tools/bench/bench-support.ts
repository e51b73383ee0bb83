import { Agent, request as httpRequest } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { NatsBus } from '@hms/platform';
import { createDatabase, dropDatabase, startInfra, startStack, uniqueSubjectPrefix, type Infra, type Stack } from '@hms/testing';

/** Value at quantile q (0..1) of unsorted samples, by nearest rank. */
export function percentile(samples: number[], q: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** Prints rows as an aligned Markdown table (so it can be pasted into docs/performance.md). */
export function printTable(title: string, header: string[], rows: Array<Array<string | number>>): void {
  const cells = [header, ...rows.map((row) => row.map((c) => (typeof c === 'number' ? formatNumber(c) : c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((row) => String(row[i] ?? '').length)));
  const line = (row: Array<string | number>) => `| ${row.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
  process.stdout.write(`\n### ${title}\n\n${line(cells[0])}\n| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |\n`);
  for (const row of cells.slice(1)) process.stdout.write(`${line(row)}\n`);
}

export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** Postgres and NATS for a benchmark run (the machine's when DATABASE_URL/NATS_URL are set). */
export async function benchInfra(): Promise<{ infra: Infra; freshDatabase(label: string): Promise<{ url: string; drop(): Promise<void> }>; stop(): Promise<void> }> {
  const scratch = mkdtempSync(join(tmpdir(), 'hms-bench-'));
  const infra = await startInfra({ dataDir: join(scratch, 'postgres'), persistent: false, databaseUrl: process.env.DATABASE_URL, natsUrl: process.env.NATS_URL });
  return {
    infra,
    async freshDatabase(label) {
      const name = `hms_bench_${label}_${Date.now().toString(36)}`;
      const url = await createDatabase(infra.databaseUrl, name);
      benchDatabases.add(name);
      return { url, drop: () => dropDatabase(infra.databaseUrl, name) };
    },
    async stop() {
      await infra.stop();
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}

/** The databases this bench created: their Postgres backends are counted apart from the rest of the machine's. */
const benchDatabases = new Set<string>();

/** CPU labels of Postgres: the backends serving this bench's databases, and everything else (other databases, the postmaster and its reaped children, WAL writer, checkpointer, autovacuum). */
export const POSTGRES_BENCH = 'postgres, bench databases';
export const POSTGRES_REST = 'postgres, rest of the machine';

/** The bench's own service processes (pid → name); once set, CPU snapshots count only these of the services. */
let stackProcesses: Map<number, string> | undefined;

/** The four services as processes on a fresh database. */
export async function benchStack(bench: Awaited<ReturnType<typeof benchInfra>>, label: string, env: Record<string, string> = {}): Promise<{ stack: Stack; databaseUrl: string; stop(): Promise<void> }> {
  const database = await bench.freshDatabase(label);
  const stack = await startStack({ databaseUrl: database.url, natsUrl: bench.infra.natsUrl, subjectPrefix: uniqueSubjectPrefix('b'), env: { LOG_LEVEL: 'warn', HMS_RATE_LIMIT_DISABLED: '1', ...env } });
  // Other stacks on the machine (tests, other benches) run the same mains: count only ours.
  stackProcesses = new Map(Object.values(stack.services).map((service) => [service.pid!, service.name]));
  return {
    stack,
    databaseUrl: database.url,
    async stop() {
      await stack.stop();
      await database.drop();
    },
  };
}

/**
 * The stack as its users meet it: {@link benchStack}, a keep-alive HTTP client on its gateway,
 * and (for waiting until events are consumed, and reading what was written) a bus connection and a
 * database client. `close` stops all of it but the infra.
 */
export async function gatewayStack(bench: Awaited<ReturnType<typeof benchInfra>>, label: string, env: Record<string, string> = {}) {
  const { stack, databaseUrl, stop } = await benchStack(bench, label, env);
  const bus = await NatsBus.connect(bench.infra.natsUrl, stack.subjectPrefix, `${label}-bench`);
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  const http = new BenchHttp(stack.gatewayUrl);
  return {
    stack,
    bus,
    db,
    http,
    async close(): Promise<void> {
      http.close();
      await db.end().catch(() => undefined);
      await bus.close();
      await stop();
    },
  };
}

/** The machine's load averages (1, 5, 15 min): everything else it runs takes from the same cores, Postgres backends included. */
export function loadAverage(): string {
  return loadavg()
    .map((load) => load.toFixed(2))
    .join(' ');
}

/** Runs `task` over `items` with at most `concurrency` in flight. */
export async function mapConcurrent<T, R>(items: T[], concurrency: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await task(items[index], index);
      }
    }),
  );
  return results;
}

export function machineLine(): string {
  const os = require('node:os') as typeof import('node:os');
  return `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}

/**
 * CPU seconds used so far by each kind of process on this machine: the four services, Postgres
 * (this bench's databases' backends, and the rest), nats-server and this bench (`services`: only the stack's own processes). Linux only (reads /proc); empty elsewhere. The
 * difference of two snapshots says where a run's CPU went — on 2 cores the total is the budget.
 */
export function cpuSnapshot(services: Map<number, string> | undefined = stackProcesses): Map<string, number> {
  const totals = new Map<string, number>();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return totals;
  }
  const ticksPerSecond = 100; // USER_HZ, 100 on every Linux Node supports
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime + stime, plus cutime + cstime: the CPU of children it has reaped, so Postgres
      // backends that ended during the run (closed connections) still count, via the postmaster.
      const seconds = (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / ticksPerSecond;
      const label = processLabel(pid, stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), services);
      if (label) totals.set(label, (totals.get(label) ?? 0) + seconds);
    } catch {
      // the process ended while we looked
    }
  }
  return totals;
}

/**
 * What a process counts as. With `services` (pid → name), only those service processes count, so
 * other stacks running on the machine at the same time are not mixed in.
 */
function processLabel(pid: string, command: string, services?: Map<number, string>): string | undefined {
  if (command === 'postgres') {
    // A backend's title is `postgres: [cluster: ]user database host(port) state`. One that exits
    // during a run (a pool closing an idle connection) takes its CPU to the postmaster's, in the rest.
    const title = /^postgres: (?:\S+: )?\S+ (\S+) /.exec(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '));
    return title && benchDatabases.has(title[1]!) ? POSTGRES_BENCH : POSTGRES_REST;
  }
  if (command === 'nats-server') return 'nats-server';
  if (Number(pid) === process.pid) return 'bench client';
  if (services) return services.get(Number(pid));
  if (command !== 'node' && command !== 'MainThread') return undefined;
  const service = /dist\/apps\/([\w-]+)\/src\/main\.js/.exec(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  return service ? service[1] : undefined;
}

/** CPU seconds per `per` units of work between two snapshots, by process, biggest first. */
export function cpuBreakdown(before: Map<string, number>, after: Map<string, number>, units: number, per = 1000): Array<[string, number]> {
  return [...after]
    .map(([label, seconds]): [string, number] => [label, ((seconds - (before.get(label) ?? 0)) * per) / units])
    .filter(([, seconds]) => seconds > 0)
    .sort((a, b) => b[1] - a[1]);
}

/**
 * A keep-alive HTTP/1.1 client on node:http: Node's fetch costs several times the client CPU
 * per call, which on a 2-core machine is taken from the system under test.
 */
export class BenchHttp {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 256 });
  private readonly url: URL;

  constructor(baseUrl: string) {
    this.url = new URL(baseUrl);
  }

  call<T>(method: string, path: string, token: string, body?: unknown, retried = false): Promise<{ status: number; body: T }> {
    const json = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          agent: this.agent,
          host: this.url.hostname,
          port: this.url.port,
          method,
          path,
          headers: { authorization: `Bearer ${token}`, ...(json === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) }) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({ status: res.statusCode ?? 0, body: (text ? JSON.parse(text) : undefined) as T });
          });
          res.on('error', reject);
        },
      );
      req.on('error', (error: NodeJS.ErrnoException) => {
        // The gateway closed a kept-alive socket as the request went out on it (on a loaded
        // machine a socket can sit idle past the server's keep-alive timeout): nothing reached
        // the gateway, so it is sent again once, on a fresh socket (Node's documented remedy).
        if (!retried && req.reusedSocket && error.code === 'ECONNRESET') resolve(this.call<T>(method, path, token, body, true));
        else reject(error);
      });
      if (json !== undefined) req.write(json);
      req.end();
    });
  }

  /** As `call`, but a status outside 2xx fails the run. */
  async ok<T>(method: string, path: string, token: string, body?: unknown): Promise<T> {
    const res = await this.call<T>(method, path, token, body);
    if (res.status < 200 || res.status > 299) throw new Error(`${method} ${path} answered ${res.status}: ${JSON.stringify(res.body)}`);
    return res.body;
  }

  close(): void {
    this.agent.destroy();
  }
}
