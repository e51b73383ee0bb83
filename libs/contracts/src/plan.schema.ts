import { FixedLimits, SLUG_PATTERN } from './limits';

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
  /**
   * The task's input: names to CEL expressions over `payload`, `request` and `steps.<id>.output`
   * (of steps this one comes after). Absent: `{payload, steps: {<dep>: {output}}}` of the steps it
   * directly depends on.
   */
  input?: Record<string, string>;
  /**
   * Fan-out: a CEL list expression over `payload`, `request` and `steps.<id>.output` (of steps this
   * one comes after, like `input:`). The step becomes one task per item, whose input holds `item`
   * and `index` (and its `input:`, evaluated per item with `item` and `index` in scope); at most
   * {@link FixedLimits.fanOutItems} items. The steps after it see `steps.<id>.output` as the
   * items' outputs in order (see docs/plans.md "Fan-out").
   */
  forEach?: string;
  /** What a dead item does (fan-out only): `fail` (default) fails the step; `continue` leaves its slot null and goes on. */
  onItemFailure?: OnItemFailure;
}

/** What a dead item of a fan-out does to its step. */
export const OnItemFailures = ['fail', 'continue'] as const;
export type OnItemFailure = (typeof OnItemFailures)[number];

/**
 * The step id of a fan-out item's task: `<step>[<index>]`. Plan step ids are slugs, which have no
 * `[`, so OMS keeps one task per (request, item) under its unique (request, step) key unchanged,
 * and every task event names its item.
 */
export const ItemSteps = {
  stepIdOf: (stepId: string, index: number): string => `${stepId}[${index}]`,
  /** The fan-out step and index of an item's task, or null for a step's own task. */
  parse: (taskStepId: string): { stepId: string; index: number } | null => {
    const match = /^(.+)\[(0|[1-9][0-9]{0,8})\]$/.exec(taskStepId);
    return match ? { stepId: match[1]!, index: Number(match[2]) } : null;
  },
} as const;

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
  /**
   * CEL expression over `payload`, `request` and `steps.<id>.output`: the request's result once it
   * completes. Absent: `{<id>: output}` of its last steps (those no other step comes after).
   */
  output?: string;
}


const retrySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['attempts'],
  properties: {
    attempts: { type: 'integer', minimum: 1, maximum: 100 },
    backoffSeconds: { type: 'number', minimum: 0, maximum: FixedLimits.backoffSeconds },
    backoffFactor: { type: 'number', minimum: 1, maximum: FixedLimits.backoffFactor },
    maxBackoffSeconds: { type: 'number', minimum: 0, maximum: FixedLimits.backoffSeconds },
  },
} as const;

const tagsSchema = {
  type: 'array',
  maxItems: FixedLimits.tags,
  items: { type: 'string', minLength: 1, maxLength: FixedLimits.tagLength },
  uniqueItems: true,
} as const;

const idSchema = { type: 'string', pattern: SLUG_PATTERN.source, maxLength: FixedLimits.idLength } as const;
const titleSchema = { type: 'string', maxLength: FixedLimits.titleLength } as const;
const prioritySchema = { type: 'integer', minimum: -FixedLimits.stepPriority, maximum: FixedLimits.stepPriority } as const;
const slaMinutesSchema = { type: 'number', exclusiveMinimum: 0, maximum: FixedLimits.slaMinutes } as const;
const leaseSecondsSchema = { type: 'integer', minimum: 1, maximum: FixedLimits.leaseSeconds } as const;

/** JSON Schema (draft 2020-12) of {@link PlanDefinition}. */
export const PLAN_JSON_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://hms.example/schemas/plan.schema.json',
  title: 'HMS plan',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'steps'],
  properties: {
    id: idSchema,
    title: titleSchema,
    slaMinutes: slaMinutesSchema,
    defaults: {
      type: 'object',
      additionalProperties: false,
      properties: {
        leaseSeconds: leaseSecondsSchema,
        retry: retrySchema,
        priority: prioritySchema,
        slaMinutes: slaMinutesSchema,
        tags: tagsSchema,
      },
    },
    schedule: {
      type: 'object',
      additionalProperties: false,
      required: ['cron'],
      properties: {
        cron: { type: 'string', maxLength: FixedLimits.scheduleFieldLength },
        tz: { type: 'string', maxLength: FixedLimits.scheduleFieldLength },
        payload: { type: 'object' },
      },
    },
    annotations: { type: 'object', additionalProperties: { type: 'string' } },
    output: { type: 'string' },
    steps: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'pool'],
        properties: {
          id: idSchema,
          title: titleSchema,
          pool: idSchema,
          tags: tagsSchema,
          priority: prioritySchema,
          slaMinutes: slaMinutesSchema,
          leaseSeconds: leaseSecondsSchema,
          retry: retrySchema,
          after: { type: 'array', items: idSchema, uniqueItems: true },
          when: { type: 'string' },
          approval: { type: 'boolean' },
          optional: { type: 'boolean' },
          input: { type: 'object', additionalProperties: { type: 'string' } },
          forEach: { type: 'string' },
          onItemFailure: { enum: OnItemFailures },
        },
      },
    },
  },
} as const;
