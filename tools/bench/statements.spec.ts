import { statementDelta, statementKey } from './statements';

describe('statement counting helpers', () => {
  it('keys a statement by its text with whitespace runs as one space', () => {
    expect(statementKey('  SELECT id\n    FROM oms.tasks\tWHERE pool = $1  ')).toBe('SELECT id FROM oms.tasks WHERE pool = $1');
  });

  it('cuts a long statement to 100 characters, marked', () => {
    const key = statementKey(`INSERT INTO act.ledger_entries ${'x'.repeat(200)}`);
    expect(key).toHaveLength(100);
    expect(key.endsWith('…')).toBe(true);
    expect(statementKey('a'.repeat(100))).toBe('a'.repeat(100));
  });

  it('counts what happened between two dumps, busiest first, leaving out statements not run since', () => {
    const before = { BEGIN: 10, 'SELECT 1': 4, COMMIT: 10 };
    const after = { BEGIN: 13, 'SELECT 1': 4, COMMIT: 13, 'UPDATE oms.tasks': 300 };
    expect(statementDelta(before, after)).toEqual([
      ['UPDATE oms.tasks', 300],
      ['BEGIN', 3],
      ['COMMIT', 3],
    ]);
  });

  it('counts everything since the process started when there is no earlier dump', () => {
    expect(statementDelta(undefined, { COMMIT: 2 })).toEqual([['COMMIT', 2]]);
  });
});
