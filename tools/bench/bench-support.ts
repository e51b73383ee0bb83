import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
      return { url, drop: () => dropDatabase(infra.databaseUrl, name) };
    },
    async stop() {
      await infra.stop();
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}

/** The four services as processes on a fresh database. */
export async function benchStack(bench: Awaited<ReturnType<typeof benchInfra>>, label: string, env: Record<string, string> = {}): Promise<{ stack: Stack; databaseUrl: string; stop(): Promise<void> }> {
  const database = await bench.freshDatabase(label);
  const stack = await startStack({ databaseUrl: database.url, natsUrl: bench.infra.natsUrl, subjectPrefix: uniqueSubjectPrefix('b'), env: { LOG_LEVEL: 'warn', ...env } });
  return {
    stack,
    databaseUrl: database.url,
    async stop() {
      await stack.stop();
      await database.drop();
    },
  };
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
