import { parse } from '@bufbuild/cel';
import type { StepStatus } from '@hms/contracts';
import { CelBudget, evaluateCel } from './cel-program';

type CelExpr = ReturnType<typeof parse>['expr'];

/** The variables a `when` expression can read. */
export const WHEN_VARIABLES = ['payload', 'request', 'steps'] as const;
/** The fields of `request` in a `when` expression. */
export const WHEN_REQUEST_FIELDS = ['id', 'plan', 'reference', 'priority'] as const;
/** The fields of `steps.<id>` in a `when` expression. */
export const WHEN_STEP_FIELDS = ['output', 'status', 'failed'] as const;
/** The variables a fan-out's `input:` expressions read beside those: the item and its index in the `forEach` list. */
export const ITEM_VARIABLES = ['item', 'index'] as const;
/** The one function of CEL's `lists` extension we offer (cel-go's name): `lists.range(n)` is `[0, 1, …, n-1]`. */
export const LISTS_RANGE = 'lists.range';

/** What a `when` expression sees at run time. */
export interface WhenContext {
  payload: Record<string, unknown>;
  request: { id: string; plan: string; reference: string | null; priority: number };
  /**
   * Every step of the request; `output` is `{}` until the step is done (a fan-out's: the list of
   * its items' outputs), `failed` the indexes of a fan-out's dead items (`[]` otherwise).
   */
  steps: Record<string, { status: StepStatus; output: unknown; failed: number[] }>;
}

/** The outcome of checking a `when` expression at registration. */
export interface WhenAnalysis {
  /** Set when the text is not CEL; nothing else is checked then. */
  parseError?: string;
  /** Step ids the expression reads through `steps.<id>` or `steps['<id>']`. */
  stepRefs: string[];
  /** Reads of unknown variables or fields. */
  problems: string[];
  /** The literal counts of `lists.range(n)` calls, so registration can refuse a fan-out too wide. */
  rangeLiterals: number[];
}

/**
 * Parses a `when` expression and lists what it reads, so registration can refuse expressions that
 * would fail at run time (unknown variables, fields or steps). Variables bound by macros such as
 * `exists(x, …)` are tracked so they are not mistaken for unknown variables.
 */
export function analyzeWhen(source: string, extraVariables: readonly string[] = []): WhenAnalysis {
  let root: CelExpr;
  try {
    root = parse(source).expr;
  } catch (error) {
    return { parseError: firstLine((error as Error).message), stepRefs: [], problems: [], rangeLiterals: [] };
  }
  const stepRefs = new Set<string>();
  const problems = new Set<string>();
  const rangeLiterals: number[] = [];
  const variables: readonly string[] = [...WHEN_VARIABLES, ...extraVariables];

  const isGlobal = (expr: CelExpr | undefined, name: string, bound: ReadonlySet<string>): boolean =>
    expr?.exprKind.case === 'identExpr' && expr.exprKind.value.name === name && !bound.has(name);

  const walk = (expr: CelExpr | undefined, bound: ReadonlySet<string>): void => {
    if (!expr) return;
    const kind = expr.exprKind;
    switch (kind.case) {
      case 'identExpr':
        if (!bound.has(kind.value.name) && !variables.includes(kind.value.name)) {
          problems.add(`unknown variable '${kind.value.name}' (use ${variables.join(', ')})`);
        }
        return;
      case 'selectExpr': {
        const { operand, field } = kind.value;
        if (isGlobal(operand, 'steps', bound)) {
          stepRefs.add(field);
          return;
        }
        if (isGlobal(operand, 'request', bound)) {
          if (!(WHEN_REQUEST_FIELDS as readonly string[]).includes(field)) {
            problems.add(`request has no field '${field}' (use ${WHEN_REQUEST_FIELDS.join(', ')})`);
          }
          return;
        }
        // steps.<id>.<field>: only output and status exist.
        if (operand?.exprKind.case === 'selectExpr' && isGlobal(operand.exprKind.value.operand, 'steps', bound)) {
          if (!(WHEN_STEP_FIELDS as readonly string[]).includes(field)) {
            problems.add(`steps.${operand.exprKind.value.field} has no field '${field}' (use ${WHEN_STEP_FIELDS.join(', ')})`);
          }
        }
        walk(operand, bound);
        return;
      }
      case 'callExpr': {
        const { target, args, function: fn } = kind.value;
        // `lists.<fn>(…)` parses as a call on the identifier `lists`, which is a namespace, not a variable.
        if (isGlobal(target, 'lists', bound)) {
          if (`lists.${fn}` !== LISTS_RANGE || args.length !== 1) problems.add(`unknown function 'lists.${fn}' with ${args.length} argument${args.length === 1 ? '' : 's'} (use ${LISTS_RANGE}(n))`);
          const count = args[0]?.exprKind;
          if (count?.case === 'constExpr') {
            const constant = count.value.constantKind;
            if (constant.case === 'int64Value' || constant.case === 'uint64Value' || constant.case === 'doubleValue') rangeLiterals.push(Number(constant.value));
          }
          for (const arg of args) walk(arg, bound);
          return;
        }
        const key = args[1]?.exprKind;
        if (fn === '_[_]' && isGlobal(args[0], 'steps', bound) && key?.case === 'constExpr' && key.value.constantKind.case === 'stringValue') {
          stepRefs.add(key.value.constantKind.value);
          return;
        }
        walk(target, bound);
        for (const arg of args) walk(arg, bound);
        return;
      }
      case 'listExpr':
        for (const element of kind.value.elements) walk(element, bound);
        return;
      case 'structExpr':
        for (const entry of kind.value.entries) {
          if (entry.keyKind.case === 'mapKey') walk(entry.keyKind.value, bound);
          walk(entry.value, bound);
        }
        return;
      case 'comprehensionExpr': {
        const c = kind.value;
        walk(c.iterRange, bound);
        walk(c.accuInit, bound);
        const inner = new Set([...bound, c.iterVar, c.accuVar, ...(c.iterVar2 ? [c.iterVar2] : [])]);
        walk(c.loopCondition, inner);
        walk(c.loopStep, inner);
        walk(c.result, new Set([...bound, c.accuVar]));
        return;
      }
      default:
        return;
    }
  };

  walk(root, new Set());
  return { stepRefs: [...stepRefs], problems: [...problems], rangeLiterals };
}

/** The result of evaluating a `when` expression: a boolean, or why there is none. */
export type WhenResult = { ok: true; value: boolean } | { ok: false; error: string };

/**
 * Evaluates a `when` expression with the CEL interpreter (never JavaScript eval). A missing field,
 * a type error or a non-boolean result is an error, not `false`: silently skipping a step because
 * an output lacked a field could, say, skip a human check, so the caller fails the request instead.
 * It spends `budget` (see CelBudget); past it, the result is an error too.
 */
export function evaluateWhen(source: string, context: WhenContext, budget: CelBudget = new CelBudget()): WhenResult {
  const evaluation = evaluateCel(source, { payload: context.payload, request: context.request, steps: context.steps }, budget);
  if (!evaluation.ok) return { ok: false, error: evaluation.error };
  if (typeof evaluation.value !== 'boolean') return { ok: false, error: `the expression gave ${describe(evaluation.value)}, not a boolean` };
  return { ok: true, value: evaluation.value };
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'bigint') return 'an int';
  return `a ${typeof value}`;
}

function firstLine(message: string): string {
  return message.split('\n')[0].replace(/^<input>:/, '').trim();
}
