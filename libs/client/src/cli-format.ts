/**
 * How `hms` shows an answer to a person (a terminal without `--json`): lists as aligned tables,
 * one object as `field  value` lines. Scripts get the JSON itself.
 */

/** The properties that hold the rows of a list answer, in the order they are looked for. */
const ROW_KEYS = ['items', 'pools', 'tasks', 'results', 'steps'] as const;
const MAX_CELL = 60;

function cell(value: unknown): string {
  if (value === null || value === undefined) return '-';
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  const line = text.replace(/\s*\n\s*/g, ' ');
  return line.length > MAX_CELL ? `${line.slice(0, MAX_CELL - 1)}…` : line;
}

/** An aligned table of `rows`, with `columns` (default: every field of the rows, in first-seen order). */
export function table(rows: readonly Record<string, unknown>[], columns?: readonly string[]): string {
  if (rows.length === 0) return '(none)\n';
  const names = columns ?? [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const body = rows.map((row) => names.map((name) => cell(row[name])));
  const widths = names.map((name, i) => Math.max(name.length, ...body.map((cells) => cells[i].length)));
  const line = (cells: readonly string[]) => cells.map((text, i) => (i === cells.length - 1 ? text : text.padEnd(widths[i]))).join('  ').trimEnd();
  return `${[line(names.map((name) => name.toUpperCase())), ...body.map(line)].join('\n')}\n`;
}

function fields(object: Record<string, unknown>, skip: string): string {
  // The last page of a list says nextCursor: null; only a cursor to go on with is worth a line.
  const entries = Object.entries(object).filter(([key, value]) => key !== skip && value !== undefined && !(key === 'nextCursor' && value === null));
  if (entries.length === 0) return '';
  const width = Math.max(...entries.map(([key]) => key.length));
  return entries.map(([key, value]) => `${key.padEnd(width)}  ${cell(value)}`.trimEnd()).join('\n') + '\n';
}

/**
 * A result for people: an array, or an object with a list (`items`, `pools`, `tasks`, `results`,
 * `steps`), becomes a table (with `columns` when given) after the object's other fields; any other
 * object becomes `field  value` lines; a string is printed as it is.
 */
export function forPeople(result: unknown, columns?: readonly string[]): string {
  if (typeof result === 'string') return `${result}\n`;
  if (Array.isArray(result)) return table(result as Record<string, unknown>[], columns);
  if (typeof result !== 'object' || result === null) return `${String(result)}\n`;
  const object = result as Record<string, unknown>;
  const rowsKey = ROW_KEYS.find((key) => Array.isArray(object[key]));
  if (!rowsKey) return fields(object, '');
  const head = fields(object, rowsKey);
  const rows = table(object[rowsKey] as Record<string, unknown>[], rowsKey === 'steps' ? undefined : columns);
  return head ? `${head}\n${rows}` : rows;
}
