import { readdirSync, readFileSync, unlinkSync } from 'node:fs';
import type { NatsBus } from '@hms/platform';
import type { Client } from 'pg';
import { formatNumber, printTable } from './bench-support';
import { statementCounts, type CountedProcess } from './statement-runs';
import { natsFile, statementDelta, type NatsCounts, type StatementCounts } from './statements';

/**
 * The load-independent side of a bench run (`--census`): what one unit of work costs in SQL
 * statements and transactions per service, NATS messages and read/write system calls per service
 * (and of the bench's own nats-server, when it runs one), JetStream messages per event type, deliveries and acks per durable consumer, and ledger entries per event type. Rates
 * move 2× with the machine's load; these counts do not, so a change to the events and their
 * consumers is judged by them first.
 */

interface ServiceCounts {
  statements: StatementCounts;
  nats: NatsCounts;
  syscalls: Syscalls;
}

/** A process's read and write system calls so far (/proc/<pid>/io: sockets included). */
interface Syscalls {
  reads: number;
  writes: number;
}

function syscallsOf(pid: number | string): Syscalls {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)?.[1] ?? NaN);
  return { reads: field('syscr'), writes: field('syscw') };
}

/**
 * The nats-server this bench started (no NATS_URL): its reads track how many writes its clients
 * made. The machine's shared server is not counted: other runs use it at the same time.
 */
function ownNatsServer(): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent === process.pid && stat.includes('(nats-server)')) return Number(entry);
    } catch {
      // ended while we looked
    }
  }
  return undefined;
}

export interface CensusSnapshot {
  services: Map<string, ServiceCounts>;
  /** Stream messages by subject (after the deployment prefix). */
  subjects: Map<string, number>;
  /** Per durable consumer: messages delivered (consumer sequence) and acknowledged (ack floor). */
  consumers: Map<string, { delivered: number; acked: number }>;
  /** Ledger entries by event type. */
  ledger: Map<string, number>;
  /** The bench's own nats-server's system calls, if it runs one. */
  natsServer?: Syscalls;
}

/** Each process's statements and NATS messages so far: `statement-counter` writes its NATS counts before the statements it is asked for. */
async function serviceCounts(processes: CountedProcess[]): Promise<Map<string, ServiceCounts>> {
  // Before the statement dumps, whose file writes would otherwise be counted.
  const syscalls = new Map(processes.map(({ name, pid }) => [name, syscallsOf(pid)]));
  const statements = await statementCounts(processes);
  const counts = new Map<string, ServiceCounts>();
  for (const { name, pid, dir } of processes) {
    const file = natsFile(dir, pid);
    const nats = JSON.parse(readFileSync(file, 'utf8')) as NatsCounts;
    unlinkSync(file);
    counts.set(name, { statements: statements.get(name) ?? {}, nats, syscalls: syscalls.get(name)! });
  }
  return counts;
}

export async function censusSnapshot(processes: CountedProcess[], bus: NatsBus, db: Client): Promise<CensusSnapshot> {
  const jsm = await bus.manager();
  const info = await jsm.streams.info(bus.streamName, { subjects_filter: '>' });
  const subjects = new Map<string, number>();
  for (const [subject, count] of Object.entries(info.state.subjects ?? {})) subjects.set(subject.startsWith(bus.prefix) ? subject.slice(bus.prefix.length) : subject, count);
  const consumers = new Map<string, { delivered: number; acked: number }>();
  for await (const consumer of jsm.consumers.list(bus.streamName)) {
    consumers.set(consumer.name, { delivered: consumer.delivered.consumer_seq, acked: consumer.ack_floor.consumer_seq });
  }
  const ledger = new Map(
    (await db.query<{ type: string; entries: string }>(`SELECT "type", count(*) AS "entries" FROM "act"."ledger_entries" GROUP BY "type"`)).rows.map((row) => [row.type, Number(row.entries)]),
  );
  const natsServer = ownNatsServer();
  return { services: await serviceCounts(processes), subjects, consumers, ledger, natsServer: natsServer === undefined ? undefined : syscallsOf(natsServer) };
}

/** Statements that open a transaction: TypeORM's, and the relay's `BEGIN; …` simple query. */
function isTransactionStart(key: string): boolean {
  return /^(START TRANSACTION|BEGIN)\b/i.test(key);
}

function delta(before: Map<string, number>, after: Map<string, number>): Array<[string, number]> {
  return [...after]
    .map(([key, value]): [string, number] => [key, value - (before.get(key) ?? 0)])
    .filter(([, value]) => value !== 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

/** Prints what happened between two snapshots, per `units` units of work (requests or tasks). */
export function printCensus(title: string, before: CensusSnapshot, after: CensusSnapshot, units: number, unit: string, topStatements = 12): void {
  const per = (count: number) => formatNumber(count / units);
  const serviceRows: Array<Array<string | number>> = [];
  const statementRows: Array<Array<string | number>> = [];
  for (const [name, counts] of after.services) {
    const previous = before.services.get(name);
    const statements = statementDelta(previous?.statements, counts.statements);
    const all = statements.reduce((sum, [, count]) => sum + count, 0);
    const transactions = statements.filter(([key]) => isTransactionStart(key)).reduce((sum, [, count]) => sum + count, 0);
    const nats = (key: keyof NatsCounts) => counts.nats[key] - (previous?.nats[key] ?? 0);
    const syscalls = (key: keyof Syscalls) => counts.syscalls[key] - (previous?.syscalls[key] ?? 0);
    serviceRows.push([name, per(all), per(transactions), per(nats('outMsgs')), per(nats('inMsgs')), per(syscalls('writes')), per(syscalls('reads'))]);
    for (const [key, count] of statements.slice(0, topStatements)) statementRows.push([name, `\`${key.replace(/\|/g, '\\|')}\``, per(count)]);
  }
  if (before.natsServer && after.natsServer) {
    serviceRows.push(['nats-server (the bench\'s own)', '-', '-', '-', '-', per(after.natsServer.writes - before.natsServer.writes), per(after.natsServer.reads - before.natsServer.reads)]);
  }
  printTable(
    `${title}: per ${unit}, by service (SQL statements and transactions counted in pg.Client#query; NATS messages over all the service's connections; system calls from /proc/<pid>/io, sockets and files)`,
    ['service', 'statements', 'transactions', 'NATS msgs out', 'NATS msgs in', 'write syscalls', 'read syscalls'],
    serviceRows,
  );
  printTable(`${title}: the busiest statements per ${unit}`, ['service', 'statement', `per ${unit}`], statementRows);
  const events = delta(before.ledger, after.ledger);
  const messages = delta(before.subjects, after.subjects);
  const types = [...new Set([...events.map(([type]) => type), ...messages.map(([subject]) => subject.replace(/^hms\.evt\./, ''))])];
  printTable(
    `${title}: events per ${unit} (ledger entries) and JetStream messages per ${unit} (a message carries a run of events of one type)`,
    ['event type', 'events', 'messages'],
    types.map((type) => [type, per(events.find(([t]) => t === type)?.[1] ?? 0), per(messages.find(([s]) => s.replace(/^hms\.evt\./, '') === type)?.[1] ?? 0)]),
  );
  printTable(
    `${title}: durable consumers, messages delivered and acknowledged per ${unit}`,
    ['consumer', 'delivered', 'acknowledged'],
    [...after.consumers].map(([name, { delivered, acked }]) => {
      const previous = before.consumers.get(name);
      return [name, per(delivered - (previous?.delivered ?? 0)), per(acked - (previous?.acked ?? 0))];
    }),
  );
}
