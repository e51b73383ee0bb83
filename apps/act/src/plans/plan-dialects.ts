import { DomainError, type ErrorDetail } from '@hms/contracts';

/*
 * The plan files our users already have, written in the shapes their guides print, register
 * unchanged: each is translated here to the canonical plan (docs/plans.md "Dialects"), which is
 * what is validated, hashed, stored and shown back. Only fields of a dialect are rewritten; every
 * other field is left for the validator, so a typo is still an "unknown field" error. A dialect
 * field that cannot be translated (wrong type, combined with its canonical twin) is a
 * VALIDATION_FAILED naming that field, as the author wrote it.
 *
 * - lanes + sequence (a lane name, or `{lane, when, ...step fields}`) → steps, each in its lane's pool
 * - retry_policy {attempts, backoff_sec, backoff_factor, max_backoff_sec} → defaults.retry
 * - steps[i] {task, agent | role | service} → {id: task, title: task, pool: agent|role|service}
 *   (names made slugs: `assessSeverity` → `assess_severity`, `SeverityAgent` → `severity_agent`)
 * - slaHours, sla_minutes → slaMinutes
 * - schedule as a cron string → schedule {cron}
 * - queue → one step in that pool (a job file has a single unit of work)
 * - image → annotations.image (kept for operators; HMS runs no containers)
 */

type Plain = Record<string, unknown>;

function isPlain(value: unknown): value is Plain {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `assessSeverity` → `assess_severity`, `Crew Scheduler` → `crew_scheduler`: a name as a slug. */
export function slugOf(name: string): string {
  return name
    .trim()
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z])([A-Z][a-z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9_.:-]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .toLowerCase();
}

const ROUTING_KEYS = ['agent', 'role', 'service'] as const;
const RETRY_POLICY_KEYS: Record<string, string> = { attempts: 'attempts', backoff_sec: 'backoffSeconds', backoff_factor: 'backoffFactor', max_backoff_sec: 'maxBackoffSeconds' };

class Translation {
  readonly problems: ErrorDetail[] = [];

  problem(path: string, message: string): void {
    this.problems.push({ path, message });
  }

  /** A name that must become a slug; records the problem and answers undefined when it cannot. */
  slug(value: unknown, path: string): string | undefined {
    if (typeof value !== 'string' || slugOf(value) === '') {
      this.problem(path, 'must be a non-empty name');
      return undefined;
    }
    return slugOf(value);
  }

  /** `from` replaces `to`: both present is ambiguous. */
  exclusive(source: Plain, from: string, to: string): boolean {
    if (source[to] === undefined) return true;
    this.problem(from, `cannot be combined with ${to} (give one of them)`);
    return false;
  }
}

function translateSteps(steps: unknown[], t: Translation): unknown[] {
  return steps.map((step, index) => {
    if (!isPlain(step) || step.task === undefined) return step;
    const path = `steps[${index}]`;
    const { task, agent, role, service, ...rest } = step;
    const routes = ROUTING_KEYS.filter((key) => step[key] !== undefined);
    if (rest.id !== undefined || rest.pool !== undefined) {
      t.problem(`${path}.task`, 'cannot be combined with id or pool (a task step names its pool by agent, role or service)');
      return step;
    }
    if (routes.length !== 1) {
      t.problem(path, routes.length === 0 ? 'a task step needs one of agent, role or service' : `give only one of ${routes.join(', ')}`);
      return step;
    }
    const id = t.slug(task, `${path}.task`);
    const pool = t.slug({ agent, role, service }[routes[0]], `${path}.${routes[0]}`);
    return { id, title: task, pool, ...rest };
  });
}

function translateSequence(source: Plain, t: Translation): unknown[] | undefined {
  const lanes = source.lanes;
  const sequence = source.sequence ?? lanes;
  if (lanes !== undefined && (!Array.isArray(lanes) || lanes.some((lane) => typeof lane !== 'string'))) {
    t.problem('lanes', 'must be a list of lane names');
    return undefined;
  }
  if (!Array.isArray(sequence)) {
    t.problem('sequence', 'must be a list of lanes');
    return undefined;
  }
  const known = lanes === undefined ? null : new Set(lanes as string[]);
  const seen = new Map<string, number>();
  return sequence.map((entry, index) => {
    const path = `sequence[${index}]`;
    const { lane, ...rest }: Plain = isPlain(entry) ? entry : { lane: entry };
    if (typeof lane !== 'string') {
      t.problem(path, 'must be a lane name or {lane, when, ...}');
      return entry;
    }
    if (known && !known.has(lane)) t.problem(isPlain(entry) ? `${path}.lane` : path, `lane '${lane}' is not in lanes`);
    if (rest.pool !== undefined) t.problem(`${path}.pool`, 'a sequence entry runs in its lane; pool cannot be given');
    // The same lane twice is two steps; the second is `<lane>_2`.
    const count = (seen.get(lane) ?? 0) + 1;
    seen.set(lane, count);
    return { id: count === 1 ? lane : `${lane}_${count}`, pool: lane, ...rest };
  });
}

function translateRetryPolicy(policy: unknown, t: Translation): Plain | undefined {
  if (!isPlain(policy)) {
    t.problem('retry_policy', 'must be an object {attempts, backoff_sec}');
    return undefined;
  }
  const retry: Plain = {};
  for (const [key, value] of Object.entries(policy)) {
    const canonical = Object.hasOwn(RETRY_POLICY_KEYS, key) ? RETRY_POLICY_KEYS[key] : undefined;
    if (canonical) retry[canonical] = value;
    else t.problem(`retry_policy.${key}`, `unknown field '${key}' (allowed: ${Object.keys(RETRY_POLICY_KEYS).join(', ')})`);
  }
  return retry;
}

function minutesFrom(value: unknown, path: string, factor: number, t: Translation): unknown {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    t.problem(path, 'must be a number');
    return undefined;
  }
  return value * factor;
}

/**
 * The canonical plan of a plan written in any accepted dialect (a canonical plan comes back as it
 * is). `id` is the id given beside the plan (`POST /v1/plans?id=`), for files that have none.
 */
export function canonicalPlan(source: unknown, given: { id?: string } = {}): unknown {
  if (!isPlain(source)) return source;
  const t = new Translation();
  const { lanes, sequence, retry_policy, slaHours, sla_minutes, queue, image, ...plan } = source;

  if (given.id !== undefined) {
    if (plan.id === undefined) plan.id = given.id;
    else if (plan.id !== given.id) t.problem('id', `the plan says '${String(plan.id)}' but it was registered as '${given.id}'`);
  }

  if (Array.isArray(plan.steps)) plan.steps = translateSteps(plan.steps, t);
  if ((lanes !== undefined || sequence !== undefined) && t.exclusive(source, sequence !== undefined ? 'sequence' : 'lanes', 'steps')) {
    plan.steps = translateSequence(source, t);
  }
  if (queue !== undefined) {
    const clash = ['steps', 'lanes', 'sequence'].find((key) => source[key] !== undefined);
    if (clash) t.problem('queue', `cannot be combined with ${clash} (a job with a queue is one step)`);
    else {
      const pool = t.slug(queue, 'queue');
      plan.steps = [{ id: pool, pool }];
    }
  }

  if (retry_policy !== undefined) {
    const defaults = isPlain(plan.defaults) ? plan.defaults : {};
    if (defaults.retry !== undefined) t.problem('retry_policy', 'cannot be combined with defaults.retry (give one of them)');
    else if (plan.defaults !== undefined && !isPlain(plan.defaults)) t.problem('retry_policy', 'cannot be combined with a defaults that is not an object');
    else plan.defaults = { ...defaults, retry: translateRetryPolicy(retry_policy, t) };
  }

  const slaFields = [
    ['slaHours', slaHours, 60],
    ['sla_minutes', sla_minutes, 1],
  ] as const;
  for (const [name, value, factor] of slaFields) {
    if (value === undefined) continue;
    if (plan.slaMinutes !== undefined) t.problem(name, 'cannot be combined with slaMinutes or another SLA field (give one of them)');
    else plan.slaMinutes = minutesFrom(value, name, factor, t);
  }

  if (typeof plan.schedule === 'string') plan.schedule = { cron: plan.schedule };

  if (image !== undefined) {
    if (typeof image !== 'string' || image.trim() === '') t.problem('image', 'must be a container image name');
    else if (plan.annotations !== undefined && !isPlain(plan.annotations)) t.problem('image', 'cannot be combined with annotations that are not an object');
    else if (isPlain(plan.annotations) && plan.annotations.image !== undefined) t.problem('image', 'cannot be combined with annotations.image');
    else plan.annotations = { ...(isPlain(plan.annotations) ? plan.annotations : {}), image };
  }

  if (t.problems.length > 0) {
    const count = t.problems.length;
    throw new DomainError('VALIDATION_FAILED', `The plan cannot be translated (${count} problem${count === 1 ? '' : 's'})`, t.problems);
  }
  return inCanonicalOrder(plan);
}

const CANONICAL_ORDER = ['id', 'title', 'slaMinutes', 'defaults', 'schedule', 'annotations', 'steps'];

/** The fields in the order docs/plans.md writes them, so a translated plan reads like a hand-written one. */
function inCanonicalOrder(plan: Plain): Plain {
  const known = CANONICAL_ORDER.filter((key) => Object.hasOwn(plan, key) && plan[key] !== undefined);
  const others = Object.keys(plan).filter((key) => !CANONICAL_ORDER.includes(key));
  // fromEntries defines own properties: a `__proto__` key stays a field (and the validator names it).
  return Object.fromEntries([...known, ...others].map((key) => [key, plan[key]]));
}
