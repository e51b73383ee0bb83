import { isCelList, isCelMap, isCelType, isCelUint, type CelValue } from '@bufbuild/cel';

/** A CEL value turned into JSON data, or why it cannot travel as JSON. */
export type CelJson = { ok: true; value: unknown } | { ok: false; error: string };

class NotJson extends Error {}

class OverBudget extends Error {}

/** Charges the work of converting: false once the evaluation's budget is spent. */
export type SpendUnits = (units: number) => boolean;

/** Characters per cost unit, as the CEL budget counts a scan. */
const CHARS_PER_UNIT = 16;

/** The protobuf messages a CEL expression can make without a schema of ours: timestamps and durations. */
interface WellKnownMessage {
  message: { $typeName: string; seconds: bigint; nanos: number };
}

function wellKnown(value: object): WellKnownMessage['message'] | undefined {
  const message = (value as Partial<WellKnownMessage>).message;
  return message && typeof message.$typeName === 'string' ? message : undefined;
}

function isoOf(seconds: bigint, nanos: number): string {
  const millis = Number(seconds) * 1000 + Math.floor(nanos / 1_000_000);
  const date = new Date(millis);
  if (Number.isNaN(date.getTime())) throw new NotJson('a timestamp outside the range of dates');
  return date.toISOString();
}

/** Protobuf's JSON form of a duration: seconds with up to nine decimals, then `s`. */
function durationOf(seconds: bigint, nanos: number): string {
  if (nanos === 0) return `${seconds}s`;
  const negative = seconds < 0n || nanos < 0;
  const whole = seconds < 0n ? -seconds : seconds;
  const fraction = String(Math.abs(nanos)).padStart(9, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}.${fraction}s`;
}

function intOf(value: bigint, kind: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new NotJson(`${kind} ${value}, which JSON numbers cannot hold exactly (beyond ±2^53)`);
  }
  return Number(value);
}

function keyOf(key: unknown): string {
  if (typeof key === 'string') return key;
  if (typeof key === 'bigint' || typeof key === 'boolean') return String(key);
  if (isCelUint(key)) return String(key.value);
  throw new NotJson('a map key that is not a string, int, uint or bool');
}

function convert(value: unknown, depth: number, maxDepth: number, spend: SpendUnits): unknown {
  // Converting copies the value: a payload named by many expressions is paid for each time.
  if (!spend(1 + (typeof value === 'string' ? Math.ceil(value.length / CHARS_PER_UNIT) : 0))) throw new OverBudget();
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new NotJson(`the double ${value}, which JSON cannot hold`);
    return value;
  }
  if (typeof value === 'bigint') return intOf(value, 'the int');
  if (typeof value !== 'object') throw new NotJson(`a ${typeof value}`);
  if (isCelUint(value)) return intOf(value.value, 'the uint');
  if (isCelType(value)) throw new NotJson(`the type ${String(value)}`);
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (depth >= maxDepth) throw new NotJson(`a value nested deeper than ${maxDepth} levels`);
  if (isCelList(value) || Array.isArray(value)) {
    const items: unknown[] = [];
    for (const item of value as Iterable<unknown>) items.push(convert(item, depth + 1, maxDepth, spend));
    return items;
  }
  if (isCelMap(value)) {
    const object: Record<string, unknown> = {};
    for (const [key, item] of value.entries()) defineKey(object, keyOf(key), convert(item, depth + 1, maxDepth, spend));
    return object;
  }
  const message = wellKnown(value);
  if (message?.$typeName === 'google.protobuf.Timestamp') return isoOf(message.seconds, message.nanos);
  if (message?.$typeName === 'google.protobuf.Duration') return durationOf(message.seconds, message.nanos);
  if (message) throw new NotJson(`a ${message.$typeName} message`);
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (prototype === Object.prototype || prototype === null) {
    const object: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) defineKey(object, key, convert(item, depth + 1, maxDepth, spend));
    return object;
  }
  throw new NotJson('a type or other value that is not data');
}

/** A plain property even for `__proto__`, so a key from data never reaches the prototype. */
function defineKey(object: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * The JSON form of a CEL value, for data that travels on (a task's input, a request's result):
 * maps (keys as strings), lists, ints and uints as numbers (within ±2^53, else an error rather than a
 * rounded number), doubles (finite), strings, bools, null, bytes as base64, timestamps as ISO-8601
 * strings and durations as protobuf's `"1.5s"`. Anything else (a type, another message) is an error.
 * `spend` is charged a unit per value and per 16 characters, so the copying counts against the
 * evaluation's CEL budget.
 */
export function celToJson(value: CelValue | unknown, maxDepth: number, spend: SpendUnits = () => true, overBudget = 'the value exceeded the CEL cost budget'): CelJson {
  try {
    return { ok: true, value: convert(value, 0, maxDepth, spend) };
  } catch (error) {
    if (error instanceof OverBudget) return { ok: false, error: overBudget };
    if (error instanceof NotJson) return { ok: false, error: `the value holds ${error.message}` };
    if (error instanceof RangeError) return { ok: false, error: 'the value is nested too deeply' };
    throw error;
  }
}
