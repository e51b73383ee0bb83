import { CelScalar, celEnv, celError, celFunc, celList, celMap, isCelError, isCelList, isCelMap, isCelUint, parse, plan as planCel, type CelFunc, type CelList, type CelValue } from '@bufbuild/cel';
import { RE2JS } from '@bufbuild/re2';
import { CEL_LIMITS, FixedLimits } from '@hms/contracts';

/** A parsed CEL expression (the parser's protobuf shape). */
export type CelExpr = ReturnType<typeof parse>['expr'] & object;

/** The static limits a plan's CEL expressions are held to; `CEL_LIMITS` unless a test says otherwise. */
export type CelLimits = typeof CEL_LIMITS;

/** The macros that iterate; each one parses into a comprehension. */
const ITERATING_MACROS = 'all, exists, exists_one, map, filter';

// ---------------------------------------------------------------------------------------------
// Registration: the static checks
// ---------------------------------------------------------------------------------------------

/**
 * The deepest bracket nesting of a source, string literals left out. The parser backtracks over an
 * unclosed nesting (300 open `[1,` took 1.4 s before it gave up), so this runs before the parser
 * ever sees the text.
 */
export function bracketNesting(source: string): number {
  let depth = 0;
  let deepest = 0;
  for (let i = 0; i < source.length; i++) {
    const char = source[i];
    if (char === '"' || char === "'") {
      const raw = i > 0 && (source[i - 1] === 'r' || source[i - 1] === 'R');
      const quote = source.startsWith(char.repeat(3), i) ? char.repeat(3) : char;
      i += quote.length;
      while (i < source.length && !source.startsWith(quote, i)) i += !raw && source[i] === '\\' ? 2 : 1;
      i += quote.length - 1;
    } else if (char === '(' || char === '[' || char === '{') {
      deepest = Math.max(deepest, ++depth);
    } else if (char === ')' || char === ']' || char === '}') {
      depth = Math.max(0, depth - 1);
    }
  }
  return deepest;
}

/** The checks that must pass before a source is handed to the parser (at registration and at run time). */
function preParseProblems(source: string, limits: CelLimits): string[] {
  if (source.length > limits.expressionLength) {
    return [`is ${source.length} characters long; an expression may have at most ${limits.expressionLength}`];
  }
  const nesting = bracketNesting(source);
  if (nesting > limits.nesting) return [`nests brackets ${nesting} deep; at most ${limits.nesting} are allowed`];
  return [];
}

/** The literal pattern of a `matches()` call, in method (`s.matches(p)`) or function (`matches(s, p)`) form. */
function literalPattern(call: { target?: CelExpr; function: string; args: CelExpr[] }): string | undefined {
  if (call.function !== 'matches') return undefined;
  const pattern = call.target ? call.args[0] : call.args[1];
  const kind = pattern?.exprKind;
  return kind?.case === 'constExpr' && kind.value.constantKind.case === 'stringValue' ? kind.value.constantKind.value : undefined;
}

/** Why a `matches()` pattern is refused, or null: RE2 syntax (no backreferences, no lookarounds) and a bounded length. */
export function regexProblem(pattern: string, limits: CelLimits = CEL_LIMITS): string | null {
  if (pattern.length > limits.regexPatternLength) {
    return `has a matches() pattern of ${pattern.length} characters; at most ${limits.regexPatternLength} are allowed`;
  }
  try {
    RE2JS.compile(pattern);
    return null;
  } catch (error) {
    return `has a matches() pattern that is not RE2 syntax (linear-time matching: no backreferences or lookarounds): ${(error as Error).message}`;
  }
}

/**
 * Holds an expression to the static limits: length and bracket nesting before parsing, then the
 * parsed tree's node count, depth, iterating macros and their nesting, and every literal
 * `matches()` pattern. A source that does not parse gives no problem here: its caller reports the
 * syntax error with its position. Each problem is a sentence to put after the field's path.
 */
export function celLimitProblems(source: string, limits: CelLimits = CEL_LIMITS): string[] {
  const early = preParseProblems(source, limits);
  if (early.length > 0) return early;
  let root: CelExpr | undefined;
  try {
    root = parse(source).expr;
  } catch {
    return [];
  }
  const problems = new Set<string>();
  let nodes = 0;
  let deepest = 0;
  let comprehensions = 0;
  let deepestLoop = 0;

  const walk = (expr: CelExpr | undefined, depth: number, loops: number): void => {
    if (!expr) return;
    nodes++;
    deepest = Math.max(deepest, depth);
    const kind = expr.exprKind;
    switch (kind.case) {
      case 'selectExpr':
        walk(kind.value.operand, depth + 1, loops);
        return;
      case 'callExpr': {
        const pattern = literalPattern(kind.value);
        const problem = pattern === undefined ? null : regexProblem(pattern, limits);
        if (problem) problems.add(problem);
        walk(kind.value.target, depth + 1, loops);
        for (const arg of kind.value.args) walk(arg, depth + 1, loops);
        return;
      }
      case 'listExpr':
        for (const element of kind.value.elements) walk(element, depth + 1, loops);
        return;
      case 'structExpr':
        for (const entry of kind.value.entries) {
          if (entry.keyKind.case === 'mapKey') walk(entry.keyKind.value, depth + 1, loops);
          walk(entry.value, depth + 1, loops);
        }
        return;
      case 'comprehensionExpr': {
        const c = kind.value;
        comprehensions++;
        deepestLoop = Math.max(deepestLoop, loops + 1);
        walk(c.iterRange, depth + 1, loops);
        walk(c.accuInit, depth + 1, loops);
        // Only the body runs once per item; the range and the result run once.
        walk(c.loopCondition, depth + 1, loops + 1);
        walk(c.loopStep, depth + 1, loops + 1);
        walk(c.result, depth + 1, loops);
        return;
      }
      default:
        return;
    }
  };
  walk(root, 1, 0);

  const found = [...problems];
  if (nodes > limits.nodes) found.push(`has ${nodes} nodes once parsed; at most ${limits.nodes} are allowed (split the condition, or compute it in an earlier step)`);
  if (deepest > limits.nesting) found.push(`nests operators ${deepest} deep; at most ${limits.nesting} are allowed`);
  if (comprehensions > limits.comprehensions) found.push(`uses ${comprehensions} iterating macros (${ITERATING_MACROS}); at most ${limits.comprehensions} are allowed`);
  if (deepestLoop > limits.comprehensionNesting) {
    found.push(`nests iterating macros ${deepestLoop} deep; at most ${limits.comprehensionNesting} are allowed, since each level multiplies the work by the size of a list`);
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// Run time: evaluation under a cost budget
// ---------------------------------------------------------------------------------------------

/**
 * Cost units for the expressions evaluated for one decision (the workflow spends one budget on all
 * the conditions a step's completion leads it to evaluate, so a plan of many steps cannot multiply
 * it). Units, not time: the same expressions over the same data spend the same on every replica.
 */
export class CelBudget {
  used = 0;
  exceeded = false;
  constructor(readonly units: number = CEL_LIMITS.costBudget) {}

  get remaining(): number {
    return Math.max(0, this.units - this.used);
  }

  /** Spends `units`; false once the budget is spent, and from then on. */
  spend(units: number): boolean {
    this.used += units;
    if (this.used > this.units) this.exceeded = true;
    return !this.exceeded;
  }

  /** Why an evaluation that spent past the budget has no value. */
  get error(): string {
    return `exceeded the CEL cost budget of ${this.units} units (see docs/limits.md)`;
  }
}

/** The budget of the evaluation in progress; evaluation is synchronous, so there is one at a time. */
let meter: CelBudget | undefined;

/** Characters scanned per cost unit. */
const CHARS_PER_UNIT = 16;

/**
 * Text × pattern characters per unit of a `matches()`: RE2's automaton steps through every state
 * of the pattern for each character, measured at about four times the cost of a plain scan.
 */
const REGEX_CHARS_PER_UNIT = 4;

function charUnits(length: number): number {
  return Math.ceil(length / CHARS_PER_UNIT);
}

/** What an operation reading `value` once costs: list and map entries, characters, bytes. */
function shallowUnits(value: CelValue | undefined): number {
  if (typeof value === 'string') return charUnits(value.length);
  if (value instanceof Uint8Array) return charUnits(value.length);
  if (isCelList(value) || isCelMap(value)) return value.size;
  return 0;
}

/**
 * What a deep comparison of `value` can cost: every nested entry and character, counted only up to
 * `cap` so that weighing a huge value is itself bounded by the budget left.
 */
function deepUnits(value: CelValue, cap: number): number {
  let units = 0;
  const stack: CelValue[] = [value];
  while (stack.length > 0 && units <= cap) {
    const next = stack.pop()!;
    units += 1 + shallowUnits(next);
    if (isCelList(next)) {
      for (const item of next) {
        stack.push(item);
        if (stack.length > cap) break;
      }
    } else if (isCelMap(next)) {
      for (const item of next.values()) {
        stack.push(item);
        if (stack.length > cap) break;
      }
    }
  }
  return units;
}

/**
 * A list that appends in place while it is the newest view of its array, as Go's slices do, so the
 * `map` and `filter` macros (which fold with `accu + [x]`) build their result in linear time. The
 * library's own concatenation nests one view per item: iterating a 10,000-item `map` result
 * overflowed the stack, and every read walked the whole chain.
 */
class AppendList {
  readonly [key: symbol]: unknown;
  constructor(
    private readonly items: CelValue[],
    readonly size: number,
  ) {
    // The library recognises its lists by this registered symbol (isCelList).
    (this as Record<symbol, unknown>)[Symbol.for('@bufbuild/cel/list')] = {};
  }

  /** Whether `left + …` can append to `left`'s array instead of copying it. */
  static appendsTo(left: CelList): boolean {
    return left instanceof AppendList && left.items.length === left.size;
  }

  /** `left + right`, reusing `left`'s array when nothing was appended to it since. */
  static concat(left: CelList, right: CelList): CelList {
    if (left instanceof AppendList && AppendList.appendsTo(left)) {
      for (const item of right) left.items.push(item);
      return new AppendList(left.items, left.items.length) as unknown as CelList;
    }
    const items = [...left, ...right];
    return new AppendList(items, items.length) as unknown as CelList;
  }

  get(index: number): CelValue | undefined {
    return index >= 0 && index < this.size ? this.items[index] : undefined;
  }

  *values(): IterableIterator<CelValue> {
    for (let i = 0; i < this.size; i++) yield this.items[i];
  }

  [Symbol.iterator](): IterableIterator<CelValue> {
    return this.values();
  }
}

/** Compiled `matches()` patterns; a plan has few, and a pattern read from data is bounded by the budget. */
const patterns = new Map<string, RE2JS | Error>();
const MAX_CACHED_PATTERNS = 256;

function compiledPattern(pattern: string): RE2JS | Error {
  let compiled = patterns.get(pattern);
  if (!compiled) {
    try {
      compiled = RE2JS.compile(pattern);
    } catch (error) {
      compiled = error as Error;
    }
    if (patterns.size >= MAX_CACHED_PATTERNS) patterns.clear();
    patterns.set(pattern, compiled);
  }
  return compiled;
}

type CallArgs = [id: number, target: CelValue | undefined, args: CelValue[]];

/** The operands of a call: the target of a method comes first. */
function operandsOf(target: CelValue | undefined, args: CelValue[]): CelValue[] {
  return target === undefined ? args : [target, ...args];
}

/**
 * What a call that may cost more than one pass over its arguments costs, from its arguments,
 * before it runs: equality and `in` compare deeply, `matches` runs RE2 (linear in text × pattern).
 */
function upfrontUnits(func: CelFunc, operands: CelValue[], remaining: number): number | undefined {
  switch (func.name) {
    case '_==_':
    case '_!=_':
      return Math.min(deepUnits(operands[0], remaining), deepUnits(operands[1], remaining));
    case '@in':
      // Only the list overload compares; the resolver tries the map ones too, and must not be charged for them.
      return func.arguments[1]?.kind === 'list' && isCelList(operands[1]) ? deepUnits(operands[1], remaining) : undefined;
    case 'matches': {
      const [text, pattern] = operands;
      return typeof text === 'string' && typeof pattern === 'string' ? Math.ceil((text.length * Math.max(1, pattern.length)) / REGEX_CHARS_PER_UNIT) : undefined;
    }
    default:
      return undefined;
  }
}

/** What any other call costs once it ran: one pass over its arguments (`size` of a list or map, and `in` a map, are constant). */
function afterUnits(name: string, operands: CelValue[]): number {
  if (name === 'size') return typeof operands[0] === 'string' ? charUnits(operands[0].length) : 1;
  if (name === '@in') return 1;
  return operands.reduce((sum: number, operand) => sum + shallowUnits(operand), 0);
}

function budgetError(id: number): CelValue {
  return celError(meter?.error ?? 'exceeded the CEL cost budget', id) as unknown as CelValue;
}

/**
 * The library's function, metered. The resolver tries each overload of a name in turn and an
 * overload answers undefined when its signature does not fit, so a call is charged only once an
 * overload took it: before running when the call can cost more than one pass over its arguments
 * (then the overload checks the operand types itself), after running otherwise, when overshooting
 * by one call is bounded by the payload limits. `run` replaces the library's body where ours is needed.
 */
function metered(func: CelFunc, run?: (...call: CallArgs) => CelValue | undefined): CelFunc {
  const wrapped = Object.create(func) as CelFunc & { call: CelFunc['call'] };
  wrapped.call = (id, target, args) => {
    const operands = operandsOf(target, args);
    const upfront = meter ? upfrontUnits(func, operands, meter.remaining) : undefined;
    if (upfront !== undefined && !meter!.spend(upfront)) return budgetError(id);
    const result = run ? run(id, target, args) : func.call(id, target, args);
    if (result === undefined || upfront !== undefined || !meter) return result;
    return meter.spend(afterUnits(func.name, operands)) ? result : budgetError(id);
  };
  return wrapped;
}

function meteredFunc(func: CelFunc): CelFunc {
  if (func.name === '_+_' && func.arguments.every((arg) => arg.kind === 'list')) {
    const concat = Object.create(func) as CelFunc & { call: CelFunc['call'] };
    concat.call = (id, target, args) => {
      const [left, right] = args;
      if (target !== undefined || args.length !== 2 || !isCelList(left) || !isCelList(right)) return undefined;
      // What is copied is the cost: appending to the newest view copies only `right`.
      if (meter && !meter.spend(AppendList.appendsTo(left) ? right.size : left.size + right.size)) return budgetError(id);
      return AppendList.concat(left, right);
    };
    return concat;
  }
  if (func.name === 'matches') {
    return metered(func, (id, target, args) => {
      const [text, pattern] = operandsOf(target, args);
      if (typeof text !== 'string' || typeof pattern !== 'string') return undefined;
      const compiled = compiledPattern(pattern);
      return compiled instanceof Error ? (celError(compiled.message, id) as unknown as CelValue) : compiled.test(text);
    });
  }
  return metered(func);
}

/** One overload of `lists.range`; the library's function wrapper gives no call id, so the body reads it from the call. */
function rangeOverload(type: typeof CelScalar.INT | typeof CelScalar.UINT | typeof CelScalar.DOUBLE, countOf: (value: unknown) => number): CelFunc {
  const func = celFunc(LISTS_RANGE_NAME, [type], CelScalar.DYN, () => null as never);
  const wrapped = Object.create(func) as CelFunc & { call: CelFunc['call'] };
  wrapped.call = (id, target, args) => {
    if (target !== undefined || args.length !== 1) return undefined;
    const value = args[0];
    const fits = type === CelScalar.INT ? typeof value === 'bigint' : type === CelScalar.DOUBLE ? typeof value === 'number' : isCelUint(value);
    return fits ? listsRange(id, countOf(value)) : undefined;
  };
  return wrapped;
}

/** Spends one item of an iterating macro: the nodes of its body, which run once per item. */
const TICK = '@hms_tick';
/** Spends the size of the range an iterating macro copies before its first item. */
const RANGE = '@hms_range';

/**
 * `lists.range(n)`, cel-go's name (its `lists` extension): the list `[0, 1, …, n-1]`. It is what a
 * fan-out over many items iterates when the items are too many to come in a payload. JSON numbers
 * are CEL doubles here, so a whole double is taken too (`lists.range(payload.count)`). Charged a
 * unit per 16 items before the list is made (ints are cheaper to make than to scan characters),
 * and never wider than a fan-out may be, so no expression can make a list that fills memory.
 */
function listsRange(id: number, count: number): CelValue {
  if (!Number.isInteger(count)) return celError(`${LISTS_RANGE_NAME}(${count}): the count must be a whole number`, id) as unknown as CelValue;
  if (count < 0) return celError(`${LISTS_RANGE_NAME}(${count}): the count cannot be negative`, id) as unknown as CelValue;
  if (count > FixedLimits.fanOutItems) {
    return celError(`${LISTS_RANGE_NAME}(${count}) is wider than a fan-out may be (${FixedLimits.fanOutItems} items, see docs/limits.md)`, id) as unknown as CelValue;
  }
  if (meter && !meter.spend(1 + Math.ceil(count / CHARS_PER_UNIT))) return budgetError(id);
  const items: CelValue[] = new Array(count);
  for (let i = 0; i < count; i++) items[i] = BigInt(i);
  return new AppendList(items, count) as unknown as CelValue;
}

const LISTS_RANGE_NAME = 'lists.range';

const meteredEnv = celEnv({
  funcs: [
    ...[...celEnv().funcs].map(meteredFunc),
    celFunc(TICK, [CelScalar.DYN, CelScalar.INT], CelScalar.DYN, (value, units) => {
      if (meter && !meter.spend(Number(units))) throw new Error(meter.error);
      return value;
    }),
    // Generic over the argument: the metered call wrapper spends its size.
    metered(celFunc(RANGE, [CelScalar.DYN], CelScalar.DYN, (range) => range)),
    rangeOverload(CelScalar.INT, (count) => Number(count as bigint)),
    rangeOverload(CelScalar.UINT, (count) => Number((count as { value: bigint }).value)),
    rangeOverload(CelScalar.DOUBLE, (count) => count as number),
  ],
});

/**
 * Units a call node costs each time it runs, beyond its arguments: the library resolves the
 * overload at run time by trying each signature in turn, which costs about five plain nodes
 * (measured: `all(x, x >= 0)` took as long per unit as RE2 and deep equality with this weight).
 */
const CALL_UNITS = 5;

/** The units one run of an expression's nodes costs: 1 a node, CALL_UNITS a call. */
function nodeUnits(expr: CelExpr | undefined): number {
  if (!expr) return 0;
  const kind = expr.exprKind;
  switch (kind.case) {
    case 'selectExpr':
      return 1 + nodeUnits(kind.value.operand);
    case 'callExpr':
      return CALL_UNITS + nodeUnits(kind.value.target) + kind.value.args.reduce((sum, arg) => sum + nodeUnits(arg), 0);
    case 'listExpr':
      return 1 + kind.value.elements.reduce((sum, element) => sum + nodeUnits(element), 0);
    case 'structExpr':
      return 1 + kind.value.entries.reduce((sum, entry) => sum + nodeUnits(entry.value) + (entry.keyKind.case === 'mapKey' ? nodeUnits(entry.keyKind.value) : 0), 0);
    case 'comprehensionExpr': {
      const c = kind.value;
      return 1 + nodeUnits(c.iterRange) + nodeUnits(c.accuInit) + nodeUnits(c.loopCondition) + nodeUnits(c.loopStep) + nodeUnits(c.result);
    }
    default:
      return 1;
  }
}

function call(fn: string, args: CelExpr[]): CelExpr {
  return { $typeName: 'cel.expr.Expr', id: 0n, exprKind: { case: 'callExpr', value: { $typeName: 'cel.expr.Expr.Call', function: fn, args } } } as CelExpr;
}

function intConst(value: number): CelExpr {
  return {
    $typeName: 'cel.expr.Expr',
    id: 0n,
    exprKind: { case: 'constExpr', value: { $typeName: 'cel.expr.Constant', constantKind: { case: 'int64Value', value: BigInt(value) } } },
  } as CelExpr;
}

/**
 * Makes every iterating macro pay as it goes: its range is charged by size before the library
 * copies it, and each item is charged the node units of the body before the body runs (its condition is
 * evaluated first on every item, so that is where the charge goes). Everything outside the loops
 * runs once and is bounded by the node limit.
 */
function instrument(expr: CelExpr | undefined): void {
  if (!expr) return;
  const kind = expr.exprKind;
  switch (kind.case) {
    case 'selectExpr':
      return instrument(kind.value.operand);
    case 'callExpr':
      instrument(kind.value.target);
      return kind.value.args.forEach(instrument);
    case 'listExpr':
      return kind.value.elements.forEach(instrument);
    case 'structExpr':
      for (const entry of kind.value.entries) {
        if (entry.keyKind.case === 'mapKey') instrument(entry.keyKind.value);
        instrument(entry.value);
      }
      return;
    case 'comprehensionExpr': {
      const c = kind.value;
      const bodyUnits = nodeUnits(c.loopCondition) + nodeUnits(c.loopStep);
      [c.iterRange, c.accuInit, c.loopCondition, c.loopStep, c.result].forEach(instrument);
      if (c.iterRange) c.iterRange = call(RANGE, [c.iterRange]);
      if (c.loopCondition) c.loopCondition = call(TICK, [c.loopCondition, intConst(bodyUnits)]);
      return;
    }
    default:
      return;
  }
}

type Program = ReturnType<typeof planCel>;
const programs = new Map<string, Program | Error>();
const MAX_CACHED_PROGRAMS = 1000;

function programOf(source: string): Program | Error {
  let program = programs.get(source);
  if (!program) {
    // A plan stored before a limit existed still must not stall the parser.
    const early = preParseProblems(source, CEL_LIMITS);
    if (early.length > 0) {
      program = new Error(`the expression ${early[0]}`);
    } else {
      try {
        const parsed = parse(source);
        instrument(parsed.expr);
        program = planCel(meteredEnv, parsed);
      } catch (error) {
        program = error as Error;
      }
    }
    // Plans are few and immutable, so a plain bounded map is enough; clearing keeps memory flat.
    if (programs.size >= MAX_CACHED_PROGRAMS) programs.clear();
    programs.set(source, program);
  }
  return program;
}

/** Bindings already converted, by identity: a decision evaluates several expressions over the same payload and outputs. */
const converted = new WeakMap<object, unknown>();

/**
 * The CEL value of a JSON value, converted once and in full. The library converts a plain object
 * each time it is read (a copy of all its keys), so reading a field of a 60,000-key map inside a
 * macro cost 60,000 steps per item, outside any budget; converted values are read in constant
 * time. The payload and outputs are never changed once stored, so the cache by identity holds.
 */
function celValueOf(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || isCelList(value) || isCelMap(value)) return value;
  const cached = converted.get(value);
  if (cached !== undefined) return cached;
  const prototype = Object.getPrototypeOf(value) as unknown;
  let result: unknown;
  if (Array.isArray(value)) result = celList(value.map(celValueOf) as never);
  else if (prototype === Object.prototype || prototype === null) {
    result = celMap(new Map(Object.entries(value).map(([key, item]) => [key, celValueOf(item)])) as never);
  } else return value;
  converted.set(value, result);
  return result;
}

/** The outcome of evaluating an expression: its CEL value, or why there is none. */
export type CelEvaluation = { ok: true; value: CelValue } | { ok: false; error: string; budgetExceeded: boolean };

/**
 * Evaluates a plan's CEL expression with the CEL interpreter (never JavaScript eval), spending
 * `budget` (shared by the evaluations of one decision; see CelBudget). Once it is spent, every
 * metered step fails at once, so no evaluation holds the event loop for long (the default budget
 * is well under 0.1 s of work; see docs/limits.md), and the evaluation is an error, even where CEL
 * would have absorbed the error (`true || <over budget>`).
 */
export function evaluateCel(source: string, bindings: Record<string, unknown>, budget: CelBudget = new CelBudget()): CelEvaluation {
  if (budget.exceeded) return { ok: false, error: budget.error, budgetExceeded: true };
  const program = programOf(source);
  if (program instanceof Error) return { ok: false, error: firstLine(program.message), budgetExceeded: false };
  meter = budget;
  // CEL errors are values (a missing field, no matching overload) and can be made once per item;
  // their messages are all we read, and capturing a stack each time made them the slowest step.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  let result: unknown;
  try {
    const values = Object.fromEntries(Object.entries(bindings).map(([name, value]) => [name, celValueOf(value)]));
    result = program(values as never);
  } catch (error) {
    result = error;
  } finally {
    meter = undefined;
    Error.stackTraceLimit = stackTraceLimit;
  }
  if (budget.exceeded) return { ok: false, error: budget.error, budgetExceeded: true };
  if (result instanceof Error || isCelError(result)) return { ok: false, error: firstLine((result as Error).message), budgetExceeded: false };
  return { ok: true, value: result as CelValue };
}

function firstLine(message: string): string {
  return message.split('\n')[0].replace(/^<input>:/, '').trim();
}
