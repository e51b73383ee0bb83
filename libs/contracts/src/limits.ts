import { IsString, Length, Matches, MaxLength, registerDecorator, type ValidationArguments } from 'class-validator';

/**
 * Every limit on input, stated once (docs/limits.md is the table, with the reason for each value).
 * The gateway and every service enforce these where input enters, so a NATS client that skips the
 * gateway meets the same limits.
 *
 * Two kinds: the {@link LimitSettings} an operator may change per deployment (sizes and counts,
 * read from the environment by the platform config and set with {@link configureLimits} at boot),
 * and fixed bounds that are part of the contract (id lengths, numeric ranges that fit the
 * database columns), which clients can rely on everywhere.
 */

/** Largest and smallest Postgres `integer` (int4): every priority, duration, count and version column. */
export const INT4_MAX = 2_147_483_647;
export const INT4_MIN = -2_147_483_648;

/** Fixed limits: the contract's id lengths and the ranges that fit the columns. */
export const FixedLimits = {
  /** Plan, step and pool ids (slugs), and any other id (uuids are 36). */
  idLength: 128,
  /** Worker names, lease tokens, idempotency keys, references: caller-chosen names. */
  nameLength: 200,
  /** One tag of a step or a worker. */
  tagLength: 100,
  /** Tags of one step, one worker, or one reroute filter. */
  tags: 50,
  /** Titles of plans and steps. */
  titleLength: 500,
  /** Free-text reasons (cancel, reroute, resolve). */
  reasonLength: 2000,
  /** A failed task's error message. */
  errorMessageLength: 4000,
  /**
   * Requests of one batch create: its body is also held within the gateway's body limit, and
   * its answer (one created view or error per item) within NATS `max_payload`.
   */
  requestBatchItems: 1000,
  /** A list cursor (ours are well under 100 characters). */
  cursorLength: 200,
  /** Cron expressions and time-zone names of a plan's schedule. */
  scheduleFieldLength: 100,
  /** A plan step's own priority; a request adds at most ±{@link FixedLimits.requestPriority}, so the sum fits int4. */
  stepPriority: 1_000_000,
  /** A request's priority, added to each of its steps' priority. */
  requestPriority: 1000,
  /** Lease lengths and extensions: a week; a longer job heartbeats. */
  leaseSeconds: 7 * 24 * 3600,
  /** Retry backoff (first wait and cap): a year. */
  backoffSeconds: 365 * 24 * 3600,
  /** Growth factor of the retry backoff. */
  backoffFactor: 100,
  /** SLAs and escalation delays: ten years, so `now + minutes` is always a valid timestamp. */
  slaMinutes: 10 * 365 * 24 * 60,
  /**
   * Times taken from callers (list cursors) must be Postgres timestamps and JavaScript dates:
   * years 1 to 9999, the range ISO-8601 writes with four digits.
   */
  earliestTime: Date.parse('0001-01-01T00:00:00.000Z'),
  latestTime: Date.parse('9999-12-31T23:59:59.999Z'),
  /**
   * A value in an event's data (a payload, an output) larger than this, as canonical JSON in
   * UTF-8, is kept in the ledger as its sha-256 digest rather than copied: the chain then does not
   * hold a citizen's documents, which can be erased from the request without breaking it
   * (docs/security.md, "The ledger").
   */
  ledgerInlineValueBytes: 4096,
  /**
   * Items of one fan-out (`forEach:`), and the longest list `lists.range(n)` makes: the width of
   * one request's fan-out. A wider list fails its step (and request) with the reason; a literal
   * `lists.range(n)` over it is refused at registration. Wider work is several requests.
   */
  fanOutItems: 100_000,
} as const;

/** Pattern of plan, step and pool ids. */
export const SLUG_PATTERN = /^[a-z0-9_.:-]+$/;

/** The limits a deployment may change (env variables in parentheses, read by the platform config). */
export interface LimitSettings {
  /** A request's payload, a task's output, a schedule's payload: UTF-8 JSON bytes (`HMS_LIMIT_PAYLOAD_KB`). */
  payloadBytes: number;
  /** Nesting of any JSON value inside a message: payload, output, plan (`HMS_LIMIT_JSON_DEPTH`). */
  jsonDepth: number;
  /** Steps of one plan; also the longest `after` list (`HMS_LIMIT_PLAN_STEPS`). */
  planSteps: number;
  /** A plan's source: the YAML text or the JSON definition's UTF-8 bytes (`HMS_LIMIT_PLAN_KB`). */
  planBytes: number;
  /** The gateway's largest request body (`GATEWAY_BODY_LIMIT_KB`, the gateway's setting). */
  requestBodyBytes: number;
}

const KIB = 1024;

/** The defaults; docs/limits.md says why each. */
export const DEFAULT_LIMITS: Readonly<LimitSettings> = Object.freeze({
  payloadBytes: 256 * KIB,
  jsonDepth: 64,
  planSteps: 200,
  planBytes: 256 * KIB,
  requestBodyBytes: 512 * KIB,
});

let current: Readonly<LimitSettings> = DEFAULT_LIMITS;

/** The limits in force in this process. */
export function limits(): Readonly<LimitSettings> {
  return current;
}

/** Sets this process's limits (the platform config does it once at boot); unset ones keep their default. */
export function configureLimits(overrides: Partial<LimitSettings>): void {
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, value]) => value !== undefined));
  current = Object.freeze({ ...DEFAULT_LIMITS, ...defined });
}

/** How many levels a message may nest above the JSON values it carries (`items[0].output`). */
export const MESSAGE_ENVELOPE_DEPTH = 4;

/** The size of a value as UTF-8 JSON, as it travels and is stored. */
export function jsonByteLength(value: unknown): number {
  return utf8ByteLength(JSON.stringify(value) ?? '');
}

/** UTF-8 length without allocating the encoded bytes (an unpaired surrogate counts as U+FFFD, 3 bytes). */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length && isLowSurrogate(text.charCodeAt(i + 1))) {
      bytes += 4;
      i += 1;
    } else bytes += 3;
  }
  return bytes;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/**
 * True when the text has no NUL character and no unpaired UTF-16 surrogate. Postgres refuses both
 * (in `text` and in `jsonb`), and an unpaired surrogate is not Unicode: neither can be stored,
 * hashed into the ledger, or sent on as UTF-8 unchanged.
 */
export function isSafeText(text: string): boolean {
  // Fast path: almost every string is plain.
  if (!/[\u0000\ud800-\udfff]/.test(text)) return true;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0) return false;
    if (code >= 0xd800 && code <= 0xdbff) {
      if (i + 1 < text.length && isLowSurrogate(text.charCodeAt(i + 1))) i += 1;
      else return false;
    } else if (isLowSurrogate(code)) return false;
  }
  return true;
}

/** What is wrong with a JSON value, and where inside it (`a.b[2]`, empty for the value itself). */
export interface JsonProblem {
  kind: 'depth' | 'text' | 'size';
  path: string;
  message: string;
}

function childPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? (path ? `${path}.${key}` : key) : `${path}[${JSON.stringify(key)}]`;
}

/**
 * Finds the first problem of a parsed JSON value against the limits: nesting deeper than
 * `maxDepth` (a scalar is depth 0, `{}` is 1), a NUL or unpaired surrogate in a key or string, or
 * more than `maxBytes` of UTF-8 JSON (text is not looked at with `checkText: false`). Iterative, so a value nested 50,000 deep is measured, not a
 * stack overflow. Null when it is within all of them.
 */
export function findJsonProblem(value: unknown, bounds: { maxDepth: number; maxBytes?: number; checkText?: boolean }): JsonProblem | null {
  const checkText = bounds.checkText ?? true;
  const stack: JsonNode[] = [{ value, depth: 0, key: null, parent: null }];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (typeof node.value === 'string') {
      if (checkText && !isSafeText(node.value)) return { kind: 'text', path: pathOf(node), message: 'must not contain a NUL character or an unpaired surrogate' };
      continue;
    }
    if (typeof node.value !== 'object' || node.value === null) continue;
    const depth = node.depth + 1;
    if (depth > bounds.maxDepth) return { kind: 'depth', path: pathOf(node), message: `nests deeper than ${bounds.maxDepth} levels` };
    if (Array.isArray(node.value)) {
      for (let i = node.value.length - 1; i >= 0; i--) stack.push({ value: node.value[i], depth, key: i, parent: node });
      continue;
    }
    for (const [key, child] of Object.entries(node.value)) {
      if (checkText && !isSafeText(key)) return { kind: 'text', path: pathOf(node), message: 'has a key with a NUL character or an unpaired surrogate' };
      stack.push({ value: child, depth, key, parent: node });
    }
  }
  if (bounds.maxBytes !== undefined) {
    const bytes = jsonByteLength(value);
    if (bytes > bounds.maxBytes) return { kind: 'size', path: '', message: `is ${bytes} bytes of JSON; at most ${bounds.maxBytes} are allowed` };
  }
  return null;
}

/** A value met while walking; its path is only spelled out for the one with a problem. */
interface JsonNode {
  value: unknown;
  depth: number;
  key: string | number | null;
  parent: JsonNode | null;
}

function pathOf(node: JsonNode): string {
  const keys: Array<string | number> = [];
  for (let at: JsonNode | null = node; at && at.key !== null; at = at.parent) keys.push(at.key);
  return keys.reverse().reduce<string>((path, key) => childPath(path, key), '');
}

/**
 * The class-validator constraint names whose failure means "too large": the RPC layer answers
 * them with PAYLOAD_TOO_LARGE (413) rather than VALIDATION_FAILED.
 */
export const SIZE_CONSTRAINTS: ReadonlySet<string> = new Set(['jsonWithinSize', 'textWithinBytes']);

/**
 * The class-validator options the rules here take. Spelled out rather than class-validator's
 * ValidationOptions: these signatures reach the declarations @hms/client publishes (through the
 * contract types it re-exports), which may not need class-validator to compile.
 */
export interface RuleOptions {
  each?: boolean;
}

/** The string (or each string of an array) has no NUL character and no unpaired surrogate. */
export function IsSafeText(options?: RuleOptions) {
  return (object: object, propertyName: string) =>
    registerDecorator({
      name: 'isSafeText',
      target: object.constructor,
      propertyName,
      options: { message: `${propertyName} must not contain a NUL character or an unpaired surrogate`, ...options },
      validator: {
        validate: (value: unknown) => typeof value !== 'string' || isSafeText(value),
      },
    });
}

/** The string's UTF-8 length is within a limit read when validating (so a deployment may change it). */
export function TextWithinBytes(maxBytes: () => number, options?: RuleOptions) {
  return (object: object, propertyName: string) =>
    registerDecorator({
      name: 'textWithinBytes',
      target: object.constructor,
      propertyName,
      options: { message: (args: ValidationArguments) => `${args.property} must be at most ${maxBytes()} bytes (UTF-8)`, ...options },
      validator: {
        validate: (value: unknown) => typeof value !== 'string' || utf8ByteLength(value) <= maxBytes(),
      },
    });
}

/**
 * A string field of a message: a string of `minLength..maxLength` characters (default 1) with no
 * NUL and no unpaired surrogate. `each` for an array of strings.
 */
export function IsText(maxLength: number, options: { minLength?: number; each?: boolean } = {}) {
  const each = options.each ? { each: true } : {};
  return (object: object, propertyName: string) => {
    IsString(each)(object, propertyName);
    Length(options.minLength ?? 1, maxLength, each)(object, propertyName);
    IsSafeText(each)(object, propertyName);
  };
}

/** A plan, step or pool id: a slug of at most {@link FixedLimits.idLength} characters. `each` for an array of them. */
export function IsSlug(options: { each?: boolean } = {}) {
  const each = options.each ? { each: true } : {};
  return (object: object, propertyName: string) => {
    Matches(SLUG_PATTERN, { ...each, message: `${propertyName} must be a slug: lowercase letters, digits, _ . : -` })(object, propertyName);
    MaxLength(FixedLimits.idLength, each)(object, propertyName);
  };
}

interface CachedProblem {
  maxDepth: number;
  maxBytes: number;
  problem: JsonProblem | null;
}

/** Problems found while validating, by value: the three checks of one field walk it once. */
const jsonProblems = new WeakMap<object, CachedProblem>();

function jsonProblemOf(value: object, maxBytes: () => number): JsonProblem | null {
  const bounds = { maxDepth: limits().jsonDepth, maxBytes: maxBytes() };
  const cached = jsonProblems.get(value);
  if (cached && cached.maxDepth === bounds.maxDepth && cached.maxBytes === bounds.maxBytes) return cached.problem;
  const problem = findJsonProblem(value, bounds);
  jsonProblems.set(value, { ...bounds, problem });
  return problem;
}

function describeProblem(property: string, problem: JsonProblem | null | undefined): string {
  if (!problem) return `${property} is not within the limits`;
  const where = problem.path ? `${property}.${problem.path}`.replace('.[', '[') : property;
  return `${where} ${problem.message}`;
}

function registerJsonCheck(name: string, kinds: ReadonlyArray<JsonProblem['kind']>, maxBytes: () => number, object: object, propertyName: string) {
  registerDecorator({
    name,
    target: object.constructor,
    propertyName,
    options: {
      message: (args: ValidationArguments) =>
        describeProblem(args.property, typeof args.value === 'object' && args.value !== null ? jsonProblems.get(args.value)?.problem : undefined),
    },
    validator: {
      validate(value: unknown) {
        if (typeof value !== 'object' || value === null) return true;
        const problem = jsonProblemOf(value, maxBytes);
        return problem === null || !kinds.includes(problem.kind);
      },
    },
  });
}

/**
 * A JSON value carried as data (a payload, an output, a plan): at most `jsonDepth` deep, no NUL or
 * unpaired surrogate in any key or string, and at most `maxBytes()` of UTF-8 JSON (413 when over).
 * Pair it with `@IsObject()` for the type.
 */
export function IsBoundedJson(maxBytes: () => number = () => limits().payloadBytes) {
  return (object: object, propertyName: string) => {
    registerJsonCheck('jsonWithinDepth', ['depth'], maxBytes, object, propertyName);
    registerJsonCheck('jsonSafeText', ['text'], maxBytes, object, propertyName);
    registerJsonCheck('jsonWithinSize', ['size'], maxBytes, object, propertyName);
  };
}

// ---------------------------------------------------------------------------------------------
// Event delivery: poison events (docs/limits.md "Event delivery")
// ---------------------------------------------------------------------------------------------

/**
 * How often a consumer tries an event before it gives up on it and parks it (`parked_events`
 * in the service's schema, listed and replayed by operators), and how it spaces the tries.
 * The defaults; each deployment may set `HMS_EVENT_MAX_DELIVERIES` and `HMS_EVENT_RETRY_BASE_MS`.
 */
export const EventDeliveryLimits = {
  /**
   * Deliveries of an event before it is parked, when its handler fails for a reason of its own
   * (failures of the infrastructure, such as timeouts and lost connections, are retried for as
   * long as they last and never park). Five tries spaced 0.5, 1, 2 and 4 s bound how long a
   * poison message holds a slot of the consumer's `max_ack_pending` (about 8 s), so what queues
   * behind it keeps moving.
   */
  maxDeliveries: 5,
  /** Delay before the second delivery; it doubles with each delivery after that. */
  retryBaseMs: 250,
  /** No redelivery waits longer than this. */
  retryMaxMs: 30_000,
  /** A parked event's last error is kept (and shown) up to this many characters. */
  lastErrorChars: 2000,
  /**
   * A page of parked events stops growing past this many bytes of events (at least one is
   * always listed): each may be as large as an event message, and the page is one NATS reply.
   */
  parkedPageBytes: 256 * 1024,
} as const;

// ---------------------------------------------------------------------------------------------
// Callers: tokens, leases, streams, webhooks (docs/security.md)
// ---------------------------------------------------------------------------------------------

/**
 * Clock skew tolerated between the token issuer and the gateway: a token's `iat` may be this far
 * in the future (a minute covers NTP-synchronised hosts with margin, and is far too short to
 * pre-issue tokens that outlive a revoked secret).
 */
export const TOKEN_CLOCK_SKEW_SECONDS = 60;

/** Longest lifetime (`exp` - `iat`) of an access token unless the gateway is configured otherwise. */
export const DEFAULT_TOKEN_MAX_LIFETIME_SECONDS = 24 * 3600;

/**
 * The longest lease (and heartbeat extension) of a pool that sets no `maxLeaseSeconds`: an hour
 * is longer than any step should hold a task without a heartbeat, and short enough that a worker
 * that vanished without a trace gives its task back the same working hour.
 */
export const DEFAULT_MAX_LEASE_SECONDS = 3600;

/**
 * Metrics streams (SSE) one token may hold open on one gateway replica: a dashboard needs one
 * per tab; more is a client that forgot to close its streams (or an attempt to exhaust sockets).
 */
export const METRICS_STREAMS_PER_TOKEN = 5;

/** Longest accepted escalation webhook URL (browsers and proxies pass on 2,048). */
export const WEBHOOK_URL_MAX_LENGTH = 2000;

// ---------------------------------------------------------------------------------------------
// CEL expressions of a plan (`when:` today; step inputs, outputs and fan-out read them too).
// Checked at registration (the static limits) and enforced while evaluating (the cost budget).
// docs/limits.md explains each figure.
// ---------------------------------------------------------------------------------------------

/** Limits on the CEL expressions of a plan. */
export const CEL_LIMITS = {
  /** Characters in one expression: a real condition is a line or two, this is fifty. */
  expressionLength: 2048,
  /** Characters in all the expressions of one plan, so registration parses a bounded amount of CEL. */
  planExpressionsLength: 16_384,
  /** Depth of brackets and of operators; the parser backtracks over unclosed brackets (300 took 1.4 s). */
  nesting: 32,
  /** Nodes of the parsed expression, macro expansions included. */
  nodes: 500,
  /** Macros that iterate (`all`, `exists`, `exists_one`, `map`, `filter`) in one expression. */
  comprehensions: 8,
  /** Iterating macros inside the body of another (`a.all(x, x.b.exists(y, …))` is 2). */
  comprehensionNesting: 2,
  /** Characters of a literal `matches()` pattern. */
  regexPatternLength: 256,
  /**
   * Cost units one evaluation may spend (a unit is an iterated node, a list element, or 16
   * characters scanned; see docs/limits.md). An evaluation past it fails deterministically,
   * the same way on every replica.
   */
  costBudget: 100_000,
} as const;
