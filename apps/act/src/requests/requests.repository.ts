import type { RequestStatus } from '@hms/contracts';
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

export function findRequest(tx: EntityManager, id: string): Promise<RequestEntity | null> {
  return tx.getRepository(RequestEntity).findOne({ where: { id } });
}

export function findRequestByIdempotencyKey(tx: EntityManager, key: string): Promise<RequestEntity | null> {
  return tx.getRepository(RequestEntity).findOne({ where: { idempotencyKey: key } });
}

/**
 * Inserts a request unless its idempotency key is taken. A concurrent create with the same key
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
  changes: Partial<Pick<RequestEntity, 'status' | 'completedAt'>> & { updatedAt: Date },
): Promise<void> {
  await tx.getRepository(RequestEntity).update({ id }, changes);
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
