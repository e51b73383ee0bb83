/**
 * Preloaded (`NODE_OPTIONS=--require …/statement-counter.js`) into a bench's service processes
 * when the bench is asked to count statements (`--statements`): counts every query a
 * `pg.Client` sends, by its SQL text, and on SIGUSR2 writes the counts so far to
 * `HMS_BENCH_STATEMENTS_DIR` (the bench signals before and after a run and takes the
 * difference). It also counts the process's NATS messages (every connection's `stats()`: core
 * requests and replies, JetStream publishes, pulls, deliveries and acks) into
 * {@link natsFile}. Without that variable it does nothing. A bench instrument, never loaded in
 * production: wrapping `query` costs a little CPU per statement, so CPU figures of a counted run
 * are not the run's figures.
 */
import { writeFileSync } from 'node:fs';
import { natsFile, statementFile, statementKey, type NatsCounts, type StatementCounts } from './statements';

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
  // The services' NATS client: every connection it opens is kept, to sum their message counts.
  const nats = require('@nats-io/nats-core/internal') as { NatsConnectionImpl: { connect: (...args: unknown[]) => Promise<{ stats(): NatsCounts }> } };
  const connections: Array<{ stats(): NatsCounts }> = [];
  const connect = nats.NatsConnectionImpl.connect.bind(nats.NatsConnectionImpl);
  nats.NatsConnectionImpl.connect = async (...args: unknown[]) => {
    const connection = await connect(...args);
    connections.push(connection);
    return connection;
  };
  process.on('SIGUSR2', () => {
    const messages: NatsCounts = { inMsgs: 0, outMsgs: 0, inBytes: 0, outBytes: 0 };
    for (const connection of connections) {
      const stats = connection.stats();
      for (const key of Object.keys(messages) as Array<keyof NatsCounts>) messages[key] += stats[key];
    }
    writeFileSync(natsFile(dir, process.pid), JSON.stringify(messages));
    // Written last: the bench reads both once this one exists.
    writeFileSync(statementFile(dir, process.pid), JSON.stringify(counts));
  });
}
