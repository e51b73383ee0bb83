import { readFileSync, unlinkSync } from 'node:fs';
import type { NatsBus } from '@hms/platform';
import type { Client } from 'pg';
import { formatNumber, printTable } from './bench-support';
import { statementCounts, type CountedProcess } from './statement-runs';
import { natsFile, statementDelta, type NatsCounts, type StatementCounts } from './statements';

/**
 * The load-independent side of a bench run (`--census`): what one unit of work costs in SQL
 * statements and transactions per service, NATS messages per service, JetStream messages per
 * event type, deliveries and acks per durable consumer, and ledger entries per event type. Rates
 * move 2× with the machine's load; these counts do not, so a change to the events and their
 * consumers is judged by them first.
 */

interface ServiceCounts {
  statements: StatementCounts;
  nats: NatsCounts;
}

export interface CensusSnapshot {
  services: Map<string, ServiceCounts>;
  /** Stream messages by subject (after the deployment prefix). */
  subjects: Map<string, number>;
  /** Per durable consumer: messages delivered (consumer sequence) and acknowledged (ack floor). */
  consumers: Map<string, { delivered: number; acked: number }>;
  /** Ledger entries by event type. */
  ledger: Map<string, number>;
}

/** Each process's statements and NATS messages so far: `statement-counter` writes its NATS counts before the statements it is asked for. */
async function serviceCounts(processes: CountedProcess[]): Promise<Map<string, ServiceCounts>> {
  const statements = await statementCounts(processes);
  const counts = new Map<string, ServiceCounts>();
  for (const { name, pid, dir } of processes) {
    const file = natsFile(dir, pid);
    const nats = JSON.parse(readFileSync(file, 'utf8')) as NatsCounts;
    unlinkSync(file);
    counts.set(name, { statements: statements.get(name) ?? {}, nats });
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
  return { services: await serviceCounts(processes), subjects, consumers, ledger };
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
    serviceRows.push([name, per(all), per(transactions), per(nats('outMsgs')), per(nats('inMsgs'))]);
    for (const [key, count] of statements.slice(0, topStatements)) statementRows.push([name, `\`${key.replace(/\|/g, '\\|')}\``, per(count)]);
  }
  printTable(`${title}: per ${unit}, by service (SQL statements and transactions counted in pg.Client#query; NATS messages over all the service's connections)`, ['service', 'statements', 'transactions', 'NATS msgs out', 'NATS msgs in'], serviceRows);
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
