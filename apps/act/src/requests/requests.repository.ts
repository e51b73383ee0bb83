import type { RequestStatus } from '@hms/contracts';
import { preparedQuery } from '@hms/platform';
import { type EntityManager, type QueryDeepPartialEntity } from 'typeorm';
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
  lockRequestsSql ??= `SELECT ${tx.connection
    .getMetadata(RequestEntity)
    .columns.map((column) => `"${column.databaseName}" AS "${column.propertyName}"`)
    .join(', ')} FROM "act"."requests" WHERE "id" = ANY($1::uuid[]) ORDER BY "id" FOR UPDATE`;
  const rows = await preparedQuery<RequestEntity>(tx, 'act_lock_requests', lockRequestsSql, [ids]);
  return new Map(rows.map((row) => [row.id, Object.assign(new RequestEntity(), row)]));
}

/** Built from the entity's columns on first use, so it selects what find() would. */
let lockRequestsSql: string | undefined;

export function findRequest(tx: EntityManager, id: string): Promise<RequestEntity | null> {
  return tx.getRepository(RequestEntity).findOne({ where: { id } });
}

/** The caller's request under its idempotency key (index requests_created_by_idempotency_key_key); another caller's key is invisible. */
export function findRequestByIdempotencyKey(tx: EntityManager, createdBy: string, key: string): Promise<RequestEntity | null> {
  return tx.getRepository(RequestEntity).findOne({ where: { createdBy, idempotencyKey: key } });
}

/**
 * Inserts a request unless its caller's idempotency key is taken. A concurrent create with the same key
 * waits on the unique index until the first commits, then inserts nothing: the caller then reads
 * the winner instead of failing on a unique violation.
 */
export async function insertRequest(tx: EntityManager, request: RequestEntity): Promise<boolean> {
  const result = await tx
    .createQueryBuilder()
    .insert()
    .into(RequestEntity)
    .values(request as QueryDeepPartialEntity<RequestEntity>)
    .orIgnore()
    .returning(['id'])
    .execute();
  return (result.raw as unknown[]).length > 0;
}

export async function insertSteps(tx: EntityManager, steps: RequestStepEntity[]): Promise<void> {
  await tx.getRepository(RequestStepEntity).insert(steps as QueryDeepPartialEntity<RequestStepEntity>[]);
}

/** The steps of a request in plan order (primary key prefix scan). */
export function loadSteps(tx: EntityManager, requestId: string): Promise<RequestStepEntity[]> {
  return tx.getRepository(RequestStepEntity).find({ where: { requestId }, order: { position: 'ASC' } });
}

export async function updateStep(
  tx: EntityManager,
  requestId: string,
  stepId: string,
  changes: Partial<Pick<RequestStepEntity, 'status' | 'taskId' | 'attempts' | 'output' | 'pool'>> & { updatedAt: Date },
): Promise<void> {
  // TypeORM's deep-partial type cannot see through jsonb columns typed as records.
  await tx.getRepository(RequestStepEntity).update({ requestId, stepId }, changes as QueryDeepPartialEntity<RequestStepEntity>);
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
