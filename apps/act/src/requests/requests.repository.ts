import type { RequestStatus } from '@hms/contracts';
import { preparedQuery, type EventOutbox, type PendingEvent } from '@hms/platform';
import type { EntityManager, QueryDeepPartialEntity } from 'typeorm';
import { RequestStepEntity } from './request-step.entity';
import { RequestEntity } from './request.entity';

/**
 * The request row, locked until the transaction ends. Everything that changes a request (the
 * workflow consumer on any replica, cancel) takes this lock first, so their decisions are made
 * one after the other on fresh state. The lookup is by primary key.
 */
export function lockRequest(tx: EntityManager, id: string): Promise<RequestEntity | null> {
  return tx.getRepository(RequestEntity).findOne({ where: { id }, lock: { mode: 'pessimistic_write' } });
}

/**
 * Several request rows, locked until the transaction ends, in id order (Postgres locks the rows
 * as the sorted scan returns them), so two batches sharing requests cannot deadlock. Ids that
 * name no request are left out.
 */
export async function lockRequests(tx: EntityManager, ids: string[]): Promise<Map<string, RequestEntity>> {
  if (ids.length === 0) return new Map();
  // A prepared statement with the ids as one array: every consumed batch of task events runs
  // it, and TypeORM's find() builds, and Postgres plans, a new IN list for each batch size.
  lockRequestsSql ??= `SELECT ${columnList(tx, RequestEntity)} FROM "act"."requests" WHERE "id" = ANY($1::uuid[]) ORDER BY "id" FOR UPDATE`;
  const rows = await preparedQuery<RequestEntity>(tx, 'act_lock_requests', lockRequestsSql, [ids]);
  return new Map(rows.map((row) => [row.id, Object.assign(new RequestEntity(), row)]));
}

/** Built from the entity's columns on first use, so it selects what find() would. */
let lockRequestsSql: string | undefined;

export function findRequest(tx: EntityManager, id: string): Promise<RequestEntity | null> {
  return tx.getRepository(RequestEntity).findOne({ where: { id } });
}

/** The caller's request under its idempotency key (index requests_created_by_idempotency_key_key); another caller's key is invisible. */
export async function findRequestByIdempotencyKey(tx: EntityManager, createdBy: string, key: string): Promise<RequestEntity | null> {
  return (await findRequestsByIdempotencyKeys(tx, createdBy, [key])).get(key) ?? null;
}

/**
 * The caller's idempotency keys to its requests that hold them: one prepared statement on the
 * unique index with the keys as one array, whatever their number (a batch's thousand keys were
 * a new IN list for TypeORM to build and Postgres to plan).
 */
export async function findRequestsByIdempotencyKeys(tx: EntityManager, createdBy: string, keys: string[]): Promise<Map<string, RequestEntity>> {
  if (keys.length === 0) return new Map();
  findByKeysSql ??= `SELECT ${columnList(tx, RequestEntity)} FROM "act"."requests" WHERE "created_by" = $1 AND "idempotency_key" = ANY($2::text[])`;
  const rows = await preparedQuery<RequestEntity>(tx, 'act_find_requests_by_keys', findByKeysSql, [createdBy, keys]);
  return new Map(rows.map((row) => [row.idempotencyKey!, Object.assign(new RequestEntity(), row)]));
}

let findByKeysSql: string | undefined;

/** The request columns {@link insertRequestsWithSteps} writes, with their types in its JSON recordset. */
const REQUEST_COLUMNS: Array<[string, string]> = [
  ['id', 'uuid'],
  ['plan', 'text'],
  ['plan_version', 'int'],
  ['status', 'text'],
  ['payload', 'jsonb'],
  ['reference', 'text'],
  ['priority', 'int'],
  ['sla_due_at', 'timestamptz'],
  ['sla_breached_at', 'timestamptz'],
  ['idempotency_key', 'text'],
  ['request_hash', 'text'],
  ['escalations', 'jsonb'],
  ['created_by', 'text'],
  ['created_at', 'timestamptz'],
  ['updated_at', 'timestamptz'],
  ['completed_at', 'timestamptz'],
  ['result', 'jsonb'],
  ['end_details', 'jsonb'],
];
const REQUEST_COLUMN_LIST = REQUEST_COLUMNS.map(([name]) => `"${name}"`).join(', ');
const REQUEST_RECORD = REQUEST_COLUMNS.map(([name, type]) => `"${name}" ${type}`).join(', ');

/**
 * Inserts new requests with their steps in one prepared statement, each request unless its
 * idempotency key is taken by its caller (then neither it nor its steps), and returns the ids inserted. A
 * concurrent create with the same key waits on the unique index until the first commits, then
 * inserts nothing: the caller then reads the winner instead of failing on a unique violation.
 * Rows are inserted in the order given (callers order them by key, so two batches sharing keys
 * wait on each other rather than deadlock). One statement and one plan serve one request or a
 * thousand.
 *
 * The rows go in as two JSON arrays (requests, steps) rather than an array parameter per column:
 * node-postgres escapes each element of a text or jsonb array in JavaScript (a batch's payloads
 * and dates, element by element) and Postgres parses them again with array_in, where
 * JSON.stringify is native and jsonb_to_recordset one pass (the ledger's append does the same).
 *
 * `latestPlan`: the requests whose version was taken as their plan's latest from this process's
 * cache (PlansService.latestKnown); each is inserted only if that version is still the latest
 * when the statement runs (a version registered since, on any replica, makes that one request
 * insert nothing; its caller resolves the plan again). The check is an index lookup inside the
 * statement, where asking for the latest version first was a round trip per create.
 *
 * `events`, when given, are written by the same statement, each only if the request it names
 * (its `requestId`) was inserted: concurrent creates share the statement (group commit), and a
 * request that lost its key or its plan version must leave no events while the others keep theirs.
 */
export async function insertRequestsWithSteps(
  db: EntityManager,
  requests: RequestEntity[],
  steps: RequestStepEntity[],
  options: { events?: { outbox: EventOutbox; events: PendingEvent[] }; latestPlan?: ReadonlySet<string> } = {},
): Promise<Set<string>> {
  if (requests.length === 0) return new Set();
  const events = options.events?.outbox.insertWithin(options.events.events, 3, `("e"."payload"->>'requestId')::uuid IN (SELECT "id" FROM "inserted")`);
  const rows = await preparedQuery<{ id: string }>(
    db,
    events ? 'act_insert_requests_with_steps_and_events' : 'act_insert_requests_with_steps',
    `WITH "inserted" AS (
       INSERT INTO "act"."requests" (${REQUEST_COLUMN_LIST})
       SELECT ${REQUEST_COLUMN_LIST} FROM jsonb_to_recordset($1::jsonb)
         AS "r"(${REQUEST_RECORD}, "latest_plan" boolean)
        WHERE "r"."latest_plan" IS NOT TRUE OR "r"."plan_version" = (SELECT max("p"."version") FROM "act"."plans" AS "p" WHERE "p"."id" = "r"."plan")
       ON CONFLICT DO NOTHING
       RETURNING "id"
     ), "steps" AS (
       INSERT INTO "act"."request_steps" ("request_id", "step_id", "position", "status", "pool", "task_id", "attempts", "output", "updated_at")
       SELECT "s".* FROM jsonb_to_recordset($2::jsonb)
         AS "s"("request_id" uuid, "step_id" text, "position" int, "status" text, "pool" text, "task_id" text, "attempts" int, "output" jsonb, "updated_at" timestamptz)
        WHERE "s"."request_id" IN (SELECT "id" FROM "inserted")
     )${events ? `, "events" AS (${events.sql})` : ''}
     SELECT "id" FROM "inserted"`,
    [requestRowsJson(requests, options.latestPlan), stepRowsJson(steps), ...(events?.parameters ?? [])],
  );
  return new Set(rows.map((row) => row.id));
}

/**
 * The rows of {@link insertRequestsWithSteps}' requests, by column name. A JSON null becomes SQL
 * NULL in jsonb_to_recordset, jsonb columns included, as `null` did in the array parameters.
 */
function requestRowsJson(requests: RequestEntity[], latestPlan: ReadonlySet<string> | undefined): string {
  return JSON.stringify(
    requests.map((r) => ({
      id: r.id,
      plan: r.plan,
      plan_version: r.planVersion,
      status: r.status,
      payload: r.payload,
      reference: r.reference,
      priority: r.priority,
      sla_due_at: r.slaDueAt,
      sla_breached_at: r.slaBreachedAt,
      idempotency_key: r.idempotencyKey,
      request_hash: r.requestHash,
      escalations: r.escalations,
      created_by: r.createdBy,
      created_at: r.createdAt,
      updated_at: r.updatedAt,
      completed_at: r.completedAt,
      result: r.result ?? null,
      end_details: r.endDetails,
      latest_plan: latestPlan?.has(r.id) ?? false,
    })),
  );
}

function stepRowsJson(steps: RequestStepEntity[]): string {
  return JSON.stringify(
    steps.map((s) => ({
      request_id: s.requestId,
      step_id: s.stepId,
      position: s.position,
      status: s.status,
      pool: s.pool,
      task_id: s.taskId,
      attempts: s.attempts,
      output: s.output ?? null,
      updated_at: s.updatedAt,
    })),
  );
}

/** The steps of a request in plan order (primary key prefix scan; prepared: every task event of a request reads them). */
export async function loadSteps(tx: EntityManager, requestId: string): Promise<RequestStepEntity[]> {
  loadStepsSql ??= `SELECT ${columnList(tx, RequestStepEntity)} FROM "act"."request_steps" WHERE "request_id" = $1 ORDER BY "position"`;
  const rows = await preparedQuery<RequestStepEntity>(tx, 'act_load_steps', loadStepsSql, [requestId]);
  return rows.map((row) => Object.assign(new RequestStepEntity(), row));
}

let loadStepsSql: string | undefined;

/** The entity's columns as find() would select them (`"column" AS "property"`). */
export function columnList(tx: EntityManager, entity: typeof RequestStepEntity | typeof RequestEntity): string {
  return tx.connection
    .getMetadata(entity)
    .columns.map((column) => `"${column.databaseName}" AS "${column.propertyName}"`)
    .join(', ');
}

/**
 * Records the steps' tasks, for the steps that exist and are in one of `statuses` (one prepared
 * statement for them all, no read first); returns the keys (`requestId stepId`, request id in
 * lower case) of the steps recorded. One entry per step: the caller keeps the last of a step's.
 */
export async function recordStepTasks(tx: EntityManager, tasks: Array<{ requestId: string; stepId: string; taskId: string }>, statuses: string[], now: Date): Promise<Set<string>> {
  if (tasks.length === 0) return new Set();
  const rows = await preparedQuery<{ request_id: string; step_id: string }>(
    tx,
    'act_record_step_tasks',
    `UPDATE "act"."request_steps" AS s SET "task_id" = t.task_id, "updated_at" = $5
       FROM unnest($1::uuid[], $2::text[], $3::text[]) AS t(request_id, step_id, task_id)
      WHERE s."request_id" = t.request_id AND s."step_id" = t.step_id AND s."status" = ANY($4::text[])
  RETURNING s."request_id", s."step_id"`,
    [tasks.map((task) => task.requestId), tasks.map((task) => task.stepId), tasks.map((task) => task.taskId), statuses, now],
  );
  return new Set(rows.map((row) => stepKey(row.request_id, row.step_id)));
}

/** A step's key in {@link recordStepTasks}' answer. */
export function stepKey(requestId: string, stepId: string): string {
  return `${requestId.toLowerCase()} ${stepId}`;
}

/**
 * Changes a step (one prepared statement whatever changes: an absent change keeps the column, as
 * no change ever sets one of these columns back to null).
 */
export async function updateStep(
  tx: EntityManager,
  requestId: string,
  stepId: string,
  changes: Partial<Pick<RequestStepEntity, 'status' | 'taskId' | 'attempts' | 'output' | 'pool' | 'failedItems'>> & { updatedAt: Date },
): Promise<void> {
  await preparedQuery(
    tx,
    'act_update_step',
    `UPDATE "act"."request_steps"
        SET "status" = COALESCE($3, "status"), "task_id" = COALESCE($4, "task_id"), "attempts" = COALESCE($5, "attempts"),
            "output" = COALESCE($6::jsonb, "output"), "pool" = COALESCE($7, "pool"), "updated_at" = $8,
            "failed_items" = COALESCE($9::int[], "failed_items")
      WHERE "request_id" = $1 AND "step_id" = $2`,
    [
      requestId,
      stepId,
      changes.status ?? null,
      changes.taskId ?? null,
      changes.attempts ?? null,
      changes.output === undefined || changes.output === null ? null : JSON.stringify(changes.output),
      changes.pool ?? null,
      changes.updatedAt,
      changes.failedItems ?? null,
    ],
  );
}

export async function updateRequest(
  tx: EntityManager,
  id: string,
  changes: Partial<Pick<RequestEntity, 'status' | 'completedAt' | 'result' | 'endDetails'>> & { updatedAt: Date },
): Promise<void> {
  // TypeORM's deep-partial type has no room for a JSON column of any shape (`result`).
  await tx.getRepository(RequestEntity).update({ id }, changes as QueryDeepPartialEntity<RequestEntity>);
}

/** Appends entries to requests' `escalations` (rows the caller has locked), in the given order per request. */
export async function appendEscalations(tx: EntityManager, entries: Array<{ requestId: string; at: string; reason: string; alertId: string }>, now: Date): Promise<void> {
  if (entries.length === 0) return;
  await preparedQuery(
    tx,
    'act_append_escalations',
    `UPDATE "act"."requests" AS "r"
        SET "escalations" = "r"."escalations" || "e"."items", "updated_at" = $5
       FROM (SELECT request_id, jsonb_agg(jsonb_build_object('at', at, 'reason', reason, 'alertId', alert_id) ORDER BY n) AS items
               FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS x(request_id, at, reason, alert_id, n)
              GROUP BY request_id) AS "e"
      WHERE "r"."id" = "e".request_id`,
    [entries.map((e) => e.requestId), entries.map((e) => e.at), entries.map((e) => e.reason), entries.map((e) => e.alertId), now],
  );
}

/** Filters of the request list. */
export interface RequestFilters {
  plan?: string;
  status?: RequestStatus;
  reference?: string;
}

/**
 * One page of requests, newest first, after the (created_at, id) cursor. Each filter has an index
 * that ends in (created_at, id), so a page is a bounded index scan however many requests exist.
 */
export async function listRequests(
  tx: EntityManager,
  filters: RequestFilters,
  after: { createdAt: Date; id: string } | null,
  limit: number,
): Promise<RequestEntity[]> {
  const query = tx.getRepository(RequestEntity).createQueryBuilder('r');
  if (filters.plan !== undefined) query.andWhere('r.plan = :plan', { plan: filters.plan });
  if (filters.status !== undefined) query.andWhere('r.status = :status', { status: filters.status });
  if (filters.reference !== undefined) query.andWhere('r.reference = :reference', { reference: filters.reference });
  if (after) query.andWhere('(r.createdAt, r.id) < (:createdAt, :id)', { createdAt: after.createdAt, id: after.id });
  return query.orderBy('r.createdAt', 'DESC').addOrderBy('r.id', 'DESC').limit(limit).getMany();
}

/** A request the SLA sweep has just marked as breached. */
export interface SlaBreach {
  id: string;
  plan: string;
  slaDueAt: Date;
}

/**
 * Marks up to `limit` running requests past their `sla_due_at` as breached (`sla_breached_at`,
 * plus an `sla-breached` entry appended to `escalations`) and returns them; the caller emits their
 * events in the same transaction.
 *
 * Index: the partial `requests_sla_due_idx (sla_due_at) WHERE status = 'running' AND
 * sla_breached_at IS NULL` holds exactly the candidates, oldest due first, so this is a bounded
 * index range scan however many requests have ended or already breached.
 * Locking: FOR UPDATE SKIP LOCKED. Replicas sweeping at once take disjoint rows; a row locked by
 * the workflow or a cancel is skipped and looked at again next tick (by then it may have ended).
 * Under READ COMMITTED a row another replica breached after this statement's snapshot is
 * re-checked once locked and no longer matches `sla_breached_at IS NULL`: one breach per request.
 */
export async function markSlaBreaches(tx: EntityManager, now: Date, limit: number): Promise<SlaBreach[]> {
  const [rows]: [Array<{ id: string; plan: string; sla_due_at: Date }>, number] = await tx.query(
    `UPDATE "act"."requests" "r"
        SET "sla_breached_at" = $1,
            "updated_at" = $1,
            "escalations" = "r"."escalations" || jsonb_build_array(jsonb_build_object('at', $2::text, 'reason', 'sla-breached'))
       FROM (SELECT "id" FROM "act"."requests"
              WHERE "status" = 'running' AND "sla_breached_at" IS NULL AND "sla_due_at" <= $1
              ORDER BY "sla_due_at"
              LIMIT $3
                FOR UPDATE SKIP LOCKED) "due"
      WHERE "r"."id" = "due"."id"
  RETURNING "r"."id", "r"."plan", "r"."sla_due_at"`,
    [now, now.toISOString(), limit],
  );
  return rows.map((row) => ({ id: row.id, plan: row.plan, slaDueAt: row.sla_due_at }));
}
