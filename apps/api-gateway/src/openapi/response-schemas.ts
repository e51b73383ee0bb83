import { AlertKinds, AlertStatuses, ErrorCodes, PoolKinds, RequestStatuses, ServiceNames, StepStatuses, TaskStatuses, WebhookDeliveryStatuses } from '@hms/contracts';

/**
 * The JSON Schemas (OpenAPI 3.0 dialect: `nullable`) of every answer body of the gateway, one
 * per view type of `libs/contracts`. Objects are closed (`additionalProperties: false`): a field
 * the services add without adding it here fails the e2e suite, which checks every answer it gets
 * against the document. A route names its answer with `@ApiAnswer` (./api-answer.ts).
 */
type Schema = Record<string, unknown>;

/** A reference to another component schema (openapi.spec.ts checks that every one resolves). */
const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const string: Schema = { type: 'string' };
const time: Schema = { type: 'string', format: 'date-time' };
const integer: Schema = { type: 'integer' };
const number: Schema = { type: 'number' };
const boolean: Schema = { type: 'boolean' };
const json: Schema = { type: 'object', additionalProperties: true };
/** Any JSON value (an event's data as it was delivered). */
const anyJson: Schema = {};
const nullable = (schema: Schema): Schema => ({ ...schema, nullable: true });
const oneOf = (values: readonly string[]): Schema => ({ type: 'string', enum: [...values] });
const arrayOf = (items: Schema): Schema => ({ type: 'array', items });

/** A closed object whose listed properties are all required except those in `optional`. */
function object(properties: Record<string, Schema>, optional: string[] = []): Schema {
  return { type: 'object', additionalProperties: false, required: Object.keys(properties).filter((key) => !optional.includes(key)), properties };
}

/** A cursor page of `item` (`Page<T>` of the contracts). */
const page = (item: string): Schema => object({ items: arrayOf(ref(item)), nextCursor: nullable(string) });
const itemList = (item: string): Schema => object({ items: arrayOf(ref(item)) });

const autoscale = object(
  {
    tasksPerReplica: integer,
    minReplicas: integer,
    maxReplicas: integer,
    cooldownSeconds: integer,
    target: object({ namespace: string, deployment: string }),
  },
  ['cooldownSeconds', 'target'],
);
const escalation = object({ webhook: string, pool: string, afterMinutes: number }, ['webhook', 'pool', 'afterMinutes']);

const requestSummary = {
  id: string,
  plan: string,
  version: integer,
  status: oneOf(RequestStatuses),
  reference: nullable(string),
  priority: integer,
  createdAt: time,
  updatedAt: time,
  slaDueAt: nullable(time),
  completedAt: nullable(time),
  escalations: arrayOf(object({ at: time, reason: string, alertId: string }, ['alertId'])),
};

const parkedEvent = object({
  id: string,
  service: oneOf(ServiceNames),
  consumer: string,
  eventId: string,
  type: string,
  subject: string,
  requestId: nullable(string),
  at: nullable(time),
  data: anyJson,
  lastError: string,
  deliveryCount: integer,
  parkedAt: time,
});

const taskActionResult = { id: string, status: oneOf(TaskStatuses), retryAt: nullable(time) };

export const RESPONSE_SCHEMAS = {
  ApiError: object({
    error: object({ code: oneOf(ErrorCodes), message: string, details: arrayOf(object({ path: string, message: string })) }, ['details']),
    requestId: string,
  }),
  PlanRegistered: object({ id: string, version: integer }),
  PlanSummary: object({ id: string, latestVersion: integer, title: nullable(string), updatedAt: time }),
  PlanList: itemList('PlanSummary'),
  PlanView: object({ id: string, version: integer, title: nullable(string), definition: ref('PlanDefinition'), contentHash: string, createdAt: time, createdBy: string }),
  RequestCreated: object({ id: string, plan: string, version: integer, status: oneOf(RequestStatuses), createdAt: time, slaDueAt: nullable(time), reference: nullable(string) }),
  CreateRequestsResult: object({
    results: arrayOf({
      oneOf: [
        object({ status: { type: 'integer', enum: [200, 201] }, request: ref('RequestCreated') }),
        object({ status: integer, error: object({ code: oneOf(ErrorCodes), message: string, details: arrayOf(object({ path: string, message: string })) }, ['details']) }),
      ],
    }),
  }),
  RequestSummary: object(requestSummary),
  RequestPage: page('RequestSummary'),
  StepView: object({
    stepId: string,
    status: oneOf(StepStatuses),
    pool: string,
    taskId: nullable(string),
    attempts: integer,
    // A fan-out's output is a list (or its summary object); any other step's an object.
    output: anyJson,
    items: nullable(object({ total: integer, completed: integer, failed: integer })),
    updatedAt: time,
  }),
  RequestView: object({
    ...requestSummary,
    payload: json,
    createdBy: string,
    steps: arrayOf(ref('StepView')),
    result: anyJson,
    details: object({ reason: nullable(string), stepId: nullable(string), escalations: requestSummary.escalations }),
  }),
  LedgerEntry: object({ seq: integer, at: time, type: string, actor: string, data: json, hash: string, prevHash: string }),
  LedgerPage: page('LedgerEntry'),
  HistoryVerification: object({ valid: boolean, entries: integer, brokenAt: object({ seq: integer, reason: string }), reason: string }, ['brokenAt', 'reason']),
  PoolView: object({
    pool: string,
    kind: oneOf(PoolKinds),
    leaseSeconds: integer,
    maxLeaseSeconds: integer,
    slaMinutes: nullable(number),
    maxAttempts: integer,
    autoscale: nullable(autoscale),
    escalation: nullable(escalation),
    workerLivenessSeconds: integer,
    createdAt: time,
    updatedAt: time,
  }),
  PoolList: itemList('PoolView'),
  QueuePeek: object({
    pool: string,
    depth: integer,
    tasks: arrayOf(object({ id: string, requestId: string, stepId: string, title: string, status: oneOf(TaskStatuses), priority: integer, slaDueAt: nullable(time), queuedAt: time })),
  }),
  QueueRerouted: object({ fromPool: string, toPool: string, moved: integer, taskIds: arrayOf(string), more: boolean }),
  LeasedTask: object({
    id: string,
    requestId: string,
    stepId: string,
    title: string,
    pool: string,
    tags: arrayOf(string),
    payload: json,
    input: json,
    attempt: integer,
    leaseToken: string,
    leaseExpiresAt: time,
    leaseSeconds: integer,
  }),
  LeaseResult: object({ tasks: arrayOf(ref('LeasedTask')) }),
  TaskView: object({
    id: string,
    requestId: string,
    stepId: string,
    pool: string,
    title: string,
    tags: arrayOf(string),
    priority: integer,
    status: oneOf(TaskStatuses),
    attempt: integer,
    maxAttempts: integer,
    payload: json,
    input: json,
    output: nullable(json),
    lastError: nullable(object({ message: string, code: string }, ['code'])),
    worker: nullable(string),
    leaseExpiresAt: nullable(time),
    slaDueAt: nullable(time),
    availableAt: time,
    queuedAt: time,
    createdAt: time,
    updatedAt: time,
  }),
  TaskPage: page('TaskView'),
  TaskActionResult: object(taskActionResult, ['retryAt']),
  CompleteTaskResult: object({ ...taskActionResult, next: ref('LeaseResult') }, ['retryAt', 'next']),
  CompleteManyResult: object(
    {
      results: arrayOf({
        oneOf: [object(taskActionResult, ['retryAt']), object({ id: string, error: object({ code: oneOf(ErrorCodes), message: string }) })],
      }),
      next: ref('LeaseResult'),
    },
    ['next'],
  ),
  LeaseExtended: object({ id: string, leaseExpiresAt: time }),
  WorkerPresence: object({ worker: string, pools: arrayOf(string), lastSeenAt: time, livenessSeconds: integer }),
  PoolMetrics: object({
    pool: string,
    depth: integer,
    leased: integer,
    oldestWaitSeconds: number,
    waitP50Seconds: nullable(number),
    waitP95Seconds: nullable(number),
    throughputPerMinute: number,
    successRate: nullable(number),
    workersOnline: integer,
    desiredReplicas: nullable(integer),
    updatedAt: time,
  }),
  PoolMetricsList: object({ pools: arrayOf(ref('PoolMetrics')) }),
  AlertView: object({
    id: string,
    kind: oneOf(AlertKinds),
    status: oneOf(AlertStatuses),
    pool: nullable(string),
    requestId: nullable(string),
    taskId: nullable(string),
    stepId: nullable(string),
    message: string,
    raisedAt: time,
    escalationDueAt: nullable(time),
    escalation: nullable(
      object({
        at: time,
        pool: nullable(string),
        webhook: nullable(object({ url: string, status: oneOf(WebhookDeliveryStatuses), attempts: integer, deliveredAt: nullable(time), lastError: nullable(string) })),
      }),
    ),
    acknowledgedAt: nullable(time),
    acknowledgedBy: nullable(string),
    resolvedAt: nullable(time),
    resolvedBy: nullable(string),
    resolution: nullable(string),
  }),
  AlertPage: page('AlertView'),
  ScalingDecision: object({ id: string, pool: string, at: time, queued: integer, current: nullable(integer), desired: integer, reason: string, applied: boolean }),
  ScalingDecisionPage: page('ScalingDecision'),
  ParkedEventView: parkedEvent,
  ParkedEventPage: page('ParkedEventView'),
  // Inline rather than a $ref: OpenAPI 3.0 ignores `nullable` beside a $ref.
  ParkedEventReplay: object({ replayed: boolean, parkedEvent: nullable(parkedEvent) }),
  Health: object({ status: string, checks: { type: 'object', additionalProperties: oneOf(['up', 'down']) } }, ['checks']),
} satisfies Record<string, Schema>;

/** The name of an answer body's schema in `components.schemas`. */
export type ResponseSchemaName = keyof typeof RESPONSE_SCHEMAS;
