import { Cron } from 'croner';
import { CEL_LIMITS, FixedLimits, findJsonProblem, limits, PLAN_JSON_SCHEMA, type ErrorDetail, type PlanDefinition } from '@hms/contracts';
import { celLimitProblems } from './cel-program';
import { ancestorsOf, dependenciesOf, findCycles } from './plan-graph';
import { analyzeWhen, ITEM_VARIABLES } from './when-expression';

/** A JSON Schema node, as far as PLAN_JSON_SCHEMA uses the vocabulary. */
interface SchemaNode {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  properties?: Record<string, SchemaNode>;
  required?: readonly string[];
  /** false: unknown keys are errors; a schema: every other key's value must match it. */
  additionalProperties?: boolean | SchemaNode;
  items?: SchemaNode;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  enum?: readonly string[];
}

/** The result of validating a plan: the typed definition, or every problem found. */
export type PlanValidation = { ok: true; plan: PlanDefinition } | { ok: false; problems: ErrorDetail[] };

const TYPE_NAMES: Record<NonNullable<SchemaNode['type']>, string> = {
  object: 'an object',
  array: 'an array',
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'a boolean',
};

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasType(value: unknown, type: NonNullable<SchemaNode['type']>): boolean {
  switch (type) {
    case 'object':
      return isPlainObject(value);
    case 'array':
      return Array.isArray(value);
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
  }
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/**
 * Structural rules, read straight from PLAN_JSON_SCHEMA so the published schema and the validator
 * can never disagree: types, required and unknown fields, slug patterns, bounds. It keeps going
 * after a problem, so an author sees every mistake in one answer.
 */
function checkAgainstSchema(value: unknown, schema: SchemaNode, path: string, problems: ErrorDetail[]): void {
  if (schema.enum && !schema.enum.includes(value as string)) {
    problems.push({ path, message: `must be one of ${schema.enum.join(', ')}` });
    return;
  }
  if (schema.type && !hasType(value, schema.type)) {
    problems.push({ path, message: `must be ${TYPE_NAMES[schema.type]}` });
    return;
  }
  if (isPlainObject(value) && schema.type === 'object') {
    for (const key of schema.required ?? []) {
      if (value[key] === undefined) problems.push({ path: join(path, key), message: 'is required' });
    }
    for (const [key, item] of Object.entries(value)) {
      // Own keys only: `__proto__` would otherwise find Object.prototype and pass as a known field.
      const child = schema.properties && Object.hasOwn(schema.properties, key) ? schema.properties[key] : undefined;
      if (child) checkAgainstSchema(item, child, join(path, key), problems);
      else if (typeof schema.additionalProperties === 'object') checkAgainstSchema(item, schema.additionalProperties, join(path, key), problems);
      else if (schema.additionalProperties === false) {
        const known = Object.keys(schema.properties ?? {}).join(', ');
        problems.push({ path: join(path, key), message: `unknown field '${key}' (allowed: ${known})` });
      }
    }
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) {
      problems.push({ path, message: `must have at least ${schema.minItems} item${schema.minItems === 1 ? '' : 's'}` });
    }
    if (schema.maxItems !== undefined && value.length > schema.maxItems) {
      problems.push({ path, message: `must have at most ${schema.maxItems} items` });
      return;
    }
    if (schema.uniqueItems) {
      const seen = new Set<string>();
      value.forEach((item, index) => {
        const key = JSON.stringify(item);
        if (seen.has(key)) problems.push({ path: `${path}[${index}]`, message: `repeats ${key}` });
        seen.add(key);
      });
    }
    if (schema.items) value.forEach((item, index) => checkAgainstSchema(item, schema.items!, `${path}[${index}]`, problems));
  }
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) problems.push({ path, message: 'must not be empty' });
    if (schema.maxLength !== undefined && value.length > schema.maxLength) {
      problems.push({ path, message: `must be at most ${schema.maxLength} characters` });
      return;
    }
    if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) {
      problems.push({ path, message: `'${value}' must match ${schema.pattern} (lowercase letters, digits, _ . : -)` });
    }
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) problems.push({ path, message: `must be at least ${schema.minimum}` });
    if (schema.maximum !== undefined && value > schema.maximum) problems.push({ path, message: `must be at most ${schema.maximum}` });
    if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) {
      problems.push({ path, message: `must be greater than ${schema.exclusiveMinimum}` });
    }
  }
}

/**
 * A cron string croner understands: five fields (minute hour day-of-month month day-of-week) or
 * six with seconds first, as croner reads them (the scheduler parses with the same mode).
 */
function cronProblem(cron: string, tz: string | undefined): string | null {
  const fields = cron.trim().split(/\s+/).filter(Boolean);
  if (fields.length !== 5 && fields.length !== 6) {
    return `'${cron}' must have five fields (minute hour day-of-month month day-of-week) or six (seconds first), found ${fields.length}`;
  }
  try {
    // Paused: parsing is all we want, nothing may run at registration.
    new Cron(cron, { paused: true, mode: '5-or-6-parts', ...(tz && isTimeZone(tz) ? { timezone: tz } : {}) }).stop();
    return null;
  } catch (error) {
    return `'${cron}' is not a valid cron expression: ${(error as Error).message.replace(/^CronPattern:\s*/, '')}`;
  }
}

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Rules that need the whole plan: ids, the `after` graph, `when` expressions, the schedule. */
function checkSemantics(plan: Record<string, unknown>, problems: ErrorDetail[]): void {
  const rawSteps = Array.isArray(plan.steps) ? plan.steps : [];
  // Steps with a usable id; the structural pass has already reported the others.
  const steps = rawSteps
    .map((step, index) => ({ step: step as Record<string, unknown>, index }))
    .filter(({ step }) => isPlainObject(step) && typeof step.id === 'string');

  const firstIndex = new Map<string, number>();
  for (const { step, index } of steps) {
    const id = step.id as string;
    if (firstIndex.has(id)) problems.push({ path: `steps[${index}].id`, message: `duplicate step id '${id}' (also steps[${firstIndex.get(id)}])` });
    else firstIndex.set(id, index);
  }

  const graphSteps = steps.map(({ step }) => ({
    id: step.id as string,
    after: Array.isArray(step.after) ? step.after.filter((dep): dep is string => typeof dep === 'string') : undefined,
  }));
  for (const { step, index } of steps) {
    if (!Array.isArray(step.after)) continue;
    for (const dep of step.after) {
      if (typeof dep === 'string' && !firstIndex.has(dep)) problems.push({ path: `steps[${index}].after`, message: `unknown step '${dep}'` });
    }
  }

  const deps = dependenciesOf(graphSteps);
  const cycles = findCycles(deps);
  for (const cycle of cycles) {
    const index = firstIndex.get(cycle[0])!;
    const loop = [...cycle, cycle[0]].join(' → ');
    problems.push({ path: `steps[${index}].after`, message: cycle.length === 1 ? `step '${cycle[0]}' comes after itself` : `cycle: ${loop}` });
  }

  // Every CEL expression of the plan: a step's `when` and `input:` values (which may read only the
  // steps that finish before it), and the plan's `output` (read when every step has settled).
  const expressions: Array<{ source: string; path: string; stepId: string | null; itemVariables?: boolean; forEach?: boolean }> = [];
  for (const { step, index } of steps) {
    if (typeof step.when === 'string') expressions.push({ source: step.when, path: `steps[${index}].when`, stepId: step.id as string });
    const fansOut = typeof step.forEach === 'string';
    if (fansOut) expressions.push({ source: step.forEach as string, path: `steps[${index}].forEach`, stepId: step.id as string, forEach: true });
    else if (step.onItemFailure !== undefined) problems.push({ path: `steps[${index}].onItemFailure`, message: 'applies only to a step with forEach' });
    // An approval decides on one output; a fan-out has a list of them.
    if (fansOut && step.optional === true) problems.push({ path: `steps[${index}].optional`, message: 'a step with forEach is not optional; use onItemFailure: continue to go on past dead items' });
    if (fansOut && step.approval === true) problems.push({ path: `steps[${index}].approval`, message: 'a step with forEach cannot be an approval (approve its outputs in a step after it)' });
    if (isPlainObject(step.input)) {
      for (const [name, source] of Object.entries(step.input)) {
        if (fansOut && (ITEM_VARIABLES as readonly string[]).includes(name)) {
          problems.push({ path: `steps[${index}].input.${name}`, message: `is the item's own ${name} in a fan-out's input; choose another name` });
        }
        if (typeof source === 'string') expressions.push({ source, path: `steps[${index}].input.${name}`, stepId: step.id as string, itemVariables: fansOut });
      }
    }
  }
  if (typeof plan.output === 'string') expressions.push({ source: plan.output, path: 'output', stepId: null });

  // Registration parses every expression: the total is bounded so one plan cannot hold ACT for long.
  let celCharacters = 0;
  for (const { source, path, stepId, itemVariables, forEach } of expressions) {
    celCharacters += source.length;
    if (celCharacters > CEL_LIMITS.planExpressionsLength) {
      problems.push({ path, message: `brings the plan's CEL expressions to ${celCharacters} characters; a plan may have at most ${CEL_LIMITS.planExpressionsLength}` });
      break;
    }
    const limitProblems = celLimitProblems(source);
    if (limitProblems.length > 0) {
      for (const problem of limitProblems) problems.push({ path, message: problem });
      continue;
    }
    const analysis = analyzeWhen(source, itemVariables ? ITEM_VARIABLES : []);
    if (analysis.parseError) {
      problems.push({ path, message: `is not a valid CEL expression: ${analysis.parseError}` });
      continue;
    }
    for (const problem of analysis.problems) problems.push({ path, message: problem });
    if (forEach) {
      for (const width of analysis.rangeLiterals) {
        if (width > FixedLimits.fanOutItems) problems.push({ path, message: `makes a list of ${width} items; a fan-out has at most ${FixedLimits.fanOutItems}` });
        else if (width < 0) problems.push({ path, message: `calls lists.range(${width}); the count cannot be negative` });
      }
    }
    const ancestors = stepId === null ? null : ancestorsOf(deps, stepId);
    for (const ref of analysis.stepRefs) {
      if (!firstIndex.has(ref)) problems.push({ path, message: `refers to unknown step '${ref}'` });
      else if (ancestors === null) continue;
      else if (ref === stepId) problems.push({ path, message: `refers to its own step '${ref}', whose output does not exist yet` });
      // Only a step that must finish first has an output when this expression is evaluated.
      else if (!ancestors.has(ref)) problems.push({ path, message: `refers to step '${ref}', which does not run before this step (add it to after)` });
    }
  }

  const schedule = plan.schedule;
  if (isPlainObject(schedule)) {
    const tz = typeof schedule.tz === 'string' ? schedule.tz : undefined;
    if (tz !== undefined && !isTimeZone(tz)) problems.push({ path: 'schedule.tz', message: `unknown time zone '${tz}' (use an IANA name such as America/New_York)` });
    if (typeof schedule.cron === 'string') {
      const problem = cronProblem(schedule.cron, tz);
      if (problem) problems.push({ path: 'schedule.cron', message: problem });
    }
  }
}

/**
 * The limits on a plan's size (docs/limits.md), checked before anything else so that the cost of
 * validating (the graph, each `when`) stays bounded, and a plan over them is refused with one clear
 * problem rather than thousands. The steps limit bounds every event of every request of the plan;
 * an `after` list cannot usefully name more steps than a plan may have.
 */
function checkSize(plan: Record<string, unknown>): ErrorDetail | null {
  const { planSteps, planBytes, jsonDepth } = limits();
  if (Array.isArray(plan.steps) && plan.steps.length > planSteps) {
    return { path: 'steps', message: `has ${plan.steps.length} steps; a plan may have at most ${planSteps} (the plan steps limit, HMS_LIMIT_PLAN_STEPS)` };
  }
  const steps = Array.isArray(plan.steps) ? plan.steps : [];
  for (const [index, step] of steps.entries()) {
    if (isPlainObject(step) && Array.isArray(step.after) && step.after.length > planSteps) {
      return { path: `steps[${index}].after`, message: `names ${step.after.length} steps; at most ${planSteps} (the plan steps limit)` };
    }
  }
  // Also reached by plans read from HMS_PLANS_DIR and parsed from YAML, which no message check saw.
  const json = findJsonProblem(plan, { maxDepth: jsonDepth, maxBytes: planBytes });
  if (json) return { path: json.path, message: json.kind === 'size' ? `the plan ${json.message} (HMS_LIMIT_PLAN_KB)` : json.message };
  return null;
}

/**
 * Validates a plan as written by its author (parsed from YAML or JSON) and lists every problem
 * with its path (`steps[1].after`), never just the first.
 */
export function validatePlan(input: unknown): PlanValidation {
  const problems: ErrorDetail[] = [];
  if (!isPlainObject(input)) return { ok: false, problems: [{ path: '', message: 'a plan must be an object' }] };
  const sizeProblem = checkSize(input);
  if (sizeProblem) return { ok: false, problems: [sizeProblem] };
  checkAgainstSchema(input, PLAN_JSON_SCHEMA as unknown as SchemaNode, '', problems);
  checkSemantics(input, problems);
  return problems.length === 0 ? { ok: true, plan: input as unknown as PlanDefinition } : { ok: false, problems };
}
