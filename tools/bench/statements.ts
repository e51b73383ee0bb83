/**
 * Statements per unit of work, by service (docs/performance.md, "Measuring where time goes"):
 * `statement-counter` is preloaded into the bench's service processes and counts every
 * `pg.Client#query` by its SQL text; these pure helpers are shared by it and the benches.
 */

/** Statement counts by normalized SQL text. */
export type StatementCounts = Record<string, number>;

/** Longest SQL prefix kept as a statement's key: enough to tell the hot statements apart. */
const KEY_LENGTH = 100;

/**
 * The key a statement is counted under: its text with runs of whitespace (and comments' line
 * breaks) as one space, cut to {@link KEY_LENGTH}. Parameters are `$n`, so one prepared
 * statement is one key whatever its values; a literal in the text would split it, which the hot
 * paths do not have.
 */
export function statementKey(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > KEY_LENGTH ? `${flat.slice(0, KEY_LENGTH - 1)}…` : flat;
}

/** What was counted between two dumps of one process (`before` absent: since it started), biggest first, zeros left out. */
export function statementDelta(before: StatementCounts | undefined, after: StatementCounts): Array<[string, number]> {
  return Object.entries(after)
    .map(([key, count]): [string, number] => [key, count - (before?.[key] ?? 0)])
    .filter(([, count]) => count > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

/** The file a process writes its counts to, in the run's directory. */
export function statementFile(dir: string, pid: number): string {
  return `${dir}/statements-${pid}.json`;
}

/** A process's NATS traffic so far, over all its connections (`NatsConnection#stats()`). */
export interface NatsCounts {
  inMsgs: number;
  outMsgs: number;
  inBytes: number;
  outBytes: number;
}

/** The file a process writes its NATS counts to, beside its statement counts. */
export function natsFile(dir: string, pid: number): string {
  return `${dir}/nats-${pid}.json`;
}
