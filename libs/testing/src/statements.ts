import { Client } from 'pg';

/**
 * Every statement text a pg client in this process sends from now until `stop()`: how a test
 * counts the statements and transactions of a path (the services of a harness run in the
 * test's process). TypeORM's transactions send `START TRANSACTION` and `COMMIT` as statements
 * of their own.
 */
export function recordStatements(): { texts: string[]; transactions(): number; stop(): void } {
  const texts: string[] = [];
  const original = Client.prototype.query as (...args: unknown[]) => unknown;
  Client.prototype.query = function recorded(this: unknown, ...args: unknown[]) {
    const config = args[0] as string | { text?: string } | undefined;
    const text = typeof config === 'string' ? config : config?.text;
    if (text) texts.push(text);
    return original.apply(this, args);
  } as typeof Client.prototype.query;
  return {
    texts,
    transactions: () => texts.filter((text) => ['START TRANSACTION', 'BEGIN'].includes(text.trim().toUpperCase())).length,
    stop: () => {
      Client.prototype.query = original as typeof Client.prototype.query;
    },
  };
}
