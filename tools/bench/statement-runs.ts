/**
 * Counting statements in a bench's service processes (`--statements`), shared by the benches
 * that offer it: the environment that preloads `statement-counter`, the dumps taken before and
 * after a run, and the table of statements per 1,000 units of work.
 */
import { mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { statementDelta, statementFile, type StatementCounts } from './statements';

/** A service process whose statements are counted. */
export interface CountedProcess {
  name: string;
  pid: number;
  dir: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A run's counting: the services' extra environment, and the directory to remove at the end. */
export function statementCounting(enabled: boolean): { dir: string | undefined; env: Record<string, string>; close: () => void } {
  const dir = enabled ? mkdtempSync(join(tmpdir(), 'hms-statements-')) : undefined;
  const env: Record<string, string> = dir
    ? { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${join(__dirname, 'statement-counter.js')}`.trim(), HMS_BENCH_STATEMENTS_DIR: dir }
    : {};
  return { dir, env, close: () => dir && rmSync(dir, { recursive: true, force: true }) };
}

/** Every counted process's statement counts so far (each writes them on SIGUSR2). */
export async function statementCounts(processes: CountedProcess[]): Promise<Map<string, StatementCounts>> {
  const counts = new Map<string, StatementCounts>();
  for (const { name, pid, dir } of processes) {
    const file = statementFile(dir, pid);
    rmSync(file, { force: true });
    process.kill(pid, 'SIGUSR2');
    for (let waited = 0; ; waited += 10) {
      try {
        counts.set(name, JSON.parse(readFileSync(file, 'utf8')) as StatementCounts);
        unlinkSync(file);
        break;
      } catch {
        if (waited > 5000) throw new Error(`${name} (pid ${pid}) wrote no statement counts within 5 s of SIGUSR2: is statement-counter preloaded?`);
        await sleep(10);
      }
    }
  }
  return counts;
}

/** What each process ran between two dumps, busiest first. */
export function statementsBetween(before: Map<string, StatementCounts> | undefined, after: Map<string, StatementCounts>): Map<string, Array<[string, number]>> {
  return new Map([...after].map(([name, counts]) => [name, statementDelta(before?.get(name), counts)]));
}

/** Table rows: per service its total per 1,000 units, then its `top` busiest statements. */
export function statementRows(statements: Map<string, Array<[string, number]>>, units: number, top: number, format: (value: number) => string): Array<Array<string | number>> {
  const rows: Array<Array<string | number>> = [];
  for (const [service, counts] of statements) {
    const all = counts.reduce((sum, [, count]) => sum + count, 0);
    rows.push([`**${service}**, all statements`, format((all * 1000) / units)]);
    for (const [key, count] of counts.slice(0, top)) rows.push([`\`${key.replace(/\|/g, '\\|')}\``, format((count * 1000) / units)]);
  }
  return rows;
}
