import { Client } from 'pg';

/**
 * Every statement a pg client in this process sends from now until `stop()`: how a test counts
 * the statements and transactions of a path (the services of a harness run in the test's
 * process). TypeORM's transactions send `START TRANSACTION` and `COMMIT` as statements of their
 * own; a statement's connection tells which transaction it ran in, so a test can leave out the
 * background jobs that run meanwhile.
 */
export function recordStatements(): {
  texts: string[];
  /** Transactions begun while recording; only those with a statement containing `containing`, if given. */
  transactions(containing?: string): number;
  stop(): void;
} {
  const sent: Array<{ client: unknown; text: string }> = [];
  const original = Client.prototype.query as (...args: unknown[]) => unknown;
  Client.prototype.query = function recorded(this: unknown, ...args: unknown[]) {
    const config = args[0] as string | { text?: string } | undefined;
    const text = typeof config === 'string' ? config : config?.text;
    if (text) sent.push({ client: this, text });
    return original.apply(this, args);
  } as typeof Client.prototype.query;
  const bare = (text: string) => text.trim().toUpperCase();
  return {
    get texts() {
      return sent.map(({ text }) => text);
    },
    transactions: (containing) => {
      const open = new Map<unknown, boolean>();
      let count = 0;
      for (const { client, text } of sent) {
        if (['START TRANSACTION', 'BEGIN'].includes(bare(text))) {
          open.set(client, false);
          if (containing === undefined) count += 1;
        } else if (['COMMIT', 'ROLLBACK'].includes(bare(text))) {
          open.delete(client);
        } else if (containing !== undefined && open.get(client) === false && text.includes(containing)) {
          open.set(client, true);
          count += 1;
        }
      }
      return count;
    },
    stop: () => {
      Client.prototype.query = original as typeof Client.prototype.query;
    },
  };
}
