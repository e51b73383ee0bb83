/**
 * Preloaded (`NODE_OPTIONS=--require …/statement-counter.js`) into a bench's service processes
 * when the bench is asked to count statements (`--statements`): counts every query a
 * `pg.Client` sends, by its SQL text, and on SIGUSR2 writes the counts so far to
 * `HMS_BENCH_STATEMENTS_DIR` (the bench signals before and after a run and takes the
 * difference). Without that variable it does nothing. A bench instrument, never loaded in
 * production: wrapping `query` costs a little CPU per statement, so CPU figures of a counted run
 * are not the run's figures.
 */
import { writeFileSync } from 'node:fs';
import { statementFile, statementKey, type StatementCounts } from './statements';

const dir = process.env.HMS_BENCH_STATEMENTS_DIR;
if (dir) {
  // Required only when counting; the same node_modules as the services, so the same pg module.
  const pg = require('pg') as typeof import('pg');
  const counts: StatementCounts = {};
  const query = pg.Client.prototype.query as (...args: unknown[]) => unknown;
  pg.Client.prototype.query = function countedQuery(this: unknown, ...args: unknown[]) {
    const config = args[0] as string | { text?: string } | undefined;
    const text = typeof config === 'string' ? config : config?.text;
    if (text) {
      const key = statementKey(text);
      counts[key] = (counts[key] ?? 0) + 1;
    }
    return query.apply(this, args);
  } as typeof pg.Client.prototype.query;
  process.on('SIGUSR2', () => writeFileSync(statementFile(dir, process.pid), JSON.stringify(counts)));
}
