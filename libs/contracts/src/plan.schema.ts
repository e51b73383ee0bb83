/**
 * The plan language (API.md "Plans"). These types describe a plan after parsing YAML or JSON;
 * `PLAN_JSON_SCHEMA` is the same shape for editors (published as docs/plan.schema.json).
 */

/** Retry policy of a step: how often a failed task is tried again and how long to wait. */
export interface RetryPolicy {
  /** Total attempts including the first (1 = never retried). */
  attempts: number;
  /** Wait before the second attempt. */
  backoffSeconds?: number;
  /** Each further wait is the previous one times this factor. */
  backoffFactor?: number;
  /** Upper bound on a single wait. */
  maxBackoffSeconds?: number;
}

/** One step of a plan: a task for one pool. */
export interface PlanStep {
  /** Unique within the plan; slug. */
  id: string;
  title?: string;
  /** The lane the task is queued in; created on first use with defaults. */
  pool: string;
  /** A worker must hold all of these tags to be offered the task. */
  tags?: string[];
  /** Higher is served first within a pool. */
  priority?: number;
  slaMinutes?: number;
  leaseSeconds?: number;
  retry?: RetryPolicy;
  /** Steps that must be done (or skipped) first. Absent: the previous step; `[]`: at once. */
  after?: string[];
  /** CEL expression over `payload`, `request` and `steps.<id>.output`; false skips the step. */
  when?: string;
  /** The task's output must hold `{approved: boolean}`; false ends the request as `rejected`. */
  approval?: boolean;
  /** A dead task here does not fail the request. */
  optional?: boolean;
}

/** Values every step inherits unless it sets its own. */
export interface PlanDefaults {
  leaseSeconds?: number;
  retry?: RetryPolicy;
  priority?: number;
  slaMinutes?: number;
  tags?: string[];
}

/** Create a request on a cron schedule. */
export interface PlanSchedule {
  /** Cron expression: five fields, or six with seconds first. */
  cron: string;
  /** IANA time zone; UTC when absent. */
  tz?: string;
  payload?: Record<string, unknown>;
}

/** A workflow definition as written by its author. */
export interface PlanDefinition {
  /** Slug: `[a-z0-9_.:-]+`. */
  id: string;
  title?: string;
  /** SLA of the whole request. */
  slaMinutes?: number;
  defaults?: PlanDefaults;
  schedule?: PlanSchedule;
  /**
   * Notes for operators kept with the plan and shown with it, never interpreted by HMS: e.g.
   * `image`, the container image a job file names for its workers (see docs/plans.md "Dialects").
   */
  annotations?: Record<string, string>;
  steps: PlanStep[];
}

/** Pattern of plan, step and pool ids. */
export const SLUG_PATTERN = /^[a-z0-9_.:-]+$/;

const retrySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['attempts'],
  properties: {
    attempts: { type: 'integer', minimum: 1, maximum: 100 },
    backoffSeconds: { type: 'number', minimum: 0 },
    backoffFactor: { type: 'number', minimum: 1 },
    maxBackoffSeconds: { type: 'number', minimum: 0 },
  },
} as const;

const tagsSchema = { type: 'array', items: { type: 'string', minLength: 1 }, uniqueItems: true } as const;

/** JSON Schema (draft 2020-12) of {@link PlanDefinition}. */
export const PLAN_JSON_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://hms.example/schemas/plan.schema.json',
  title: 'HMS plan',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'steps'],
  properties: {
    id: { type: 'string', pattern: SLUG_PATTERN.source },
    title: { type: 'string' },
    slaMinutes: { type: 'number', exclusiveMinimum: 0 },
    defaults: {
      type: 'object',
      additionalProperties: false,
      properties: {
        leaseSeconds: { type: 'integer', minimum: 1 },
        retry: retrySchema,
        priority: { type: 'integer' },
        slaMinutes: { type: 'number', exclusiveMinimum: 0 },
        tags: tagsSchema,
      },
    },
    schedule: {
      type: 'object',
      additionalProperties: false,
      required: ['cron'],
      properties: { cron: { type: 'string' }, tz: { type: 'string' }, payload: { type: 'object' } },
    },
    annotations: { type: 'object', additionalProperties: { type: 'string' } },
    steps: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'pool'],
        properties: {
          id: { type: 'string', pattern: SLUG_PATTERN.source },
          title: { type: 'string' },
          pool: { type: 'string', pattern: SLUG_PATTERN.source },
          tags: tagsSchema,
          priority: { type: 'integer' },
          slaMinutes: { type: 'number', exclusiveMinimum: 0 },
          leaseSeconds: { type: 'integer', minimum: 1 },
          retry: retrySchema,
          after: { type: 'array', items: { type: 'string' }, uniqueItems: true },
          when: { type: 'string' },
          approval: { type: 'boolean' },
          optional: { type: 'boolean' },
        },
      },
    },
  },
} as const;
