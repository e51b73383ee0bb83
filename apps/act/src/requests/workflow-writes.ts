import { preparedQuery } from '@hms/platform';
import type { EntityManager } from 'typeorm';
import { RequestStepEntity } from './request-step.entity';
import type { RequestEntity } from './request.entity';
import { columnList, stepKey, updateRequest, updateStep } from './requests.repository';

/** A change of a step, as {@link updateStep} takes it: an absent (or null) field keeps the column. */
export type StepChanges = Parameters<typeof updateStep>[3];

/** A change of a request, as {@link updateRequest} takes it. */
export type RequestChanges = Parameters<typeof updateRequest>[2];

/**
 * Where the workflow stores the changes of a request and its steps (WorkflowService.apply):
 * at once, a statement per change ({@link immediateWrites}), or held for a batch of events
 * ({@link BatchedWorkflowWrites}).
 */
export interface WorkflowWrites {
  step(tx: EntityManager, requestId: string, stepId: string, changes: StepChanges): Promise<void>;
  /** `request` (a row this transaction has locked) with `changes` already assigned to it. */
  request(tx: EntityManager, request: RequestEntity, changes: RequestChanges): Promise<void>;
}

export const immediateWrites: WorkflowWrites = {
  step: (tx, requestId, stepId, changes) => updateStep(tx, requestId, stepId, changes),
  request: (tx, request, changes) => updateRequest(tx, request.id, changes),
};

/** The steps of several requests in one statement, each request's in position order (keys: lower-case request ids). */
async function loadStepsOfRequests(tx: EntityManager, requestIds: string[]): Promise<Map<string, RequestStepEntity[]>> {
  loadStepsOfRequestsSql ??= `SELECT ${columnList(tx, RequestStepEntity)} FROM "act"."request_steps" WHERE "request_id" = ANY($1::uuid[]) ORDER BY "request_id", "position"`;
  const steps = new Map<string, RequestStepEntity[]>(requestIds.map((id) => [id.toLowerCase(), []]));
  for (const row of await preparedQuery<RequestStepEntity>(tx, 'act_load_steps_of_requests', loadStepsOfRequestsSql, [requestIds])) {
    steps.get(row.requestId.toLowerCase())?.push(Object.assign(new RequestStepEntity(), row));
  }
  return steps;
}

let loadStepsOfRequestsSql: string | undefined;

/** Each step's merged changes, applied as the statements one per change would have left them (COALESCE per column). */
const UPDATE_STEPS_SQL = `
UPDATE "act"."request_steps" AS s
   SET "status" = COALESCE(c.status, s."status"), "task_id" = COALESCE(c.task_id, s."task_id"), "attempts" = COALESCE(c.attempts, s."attempts"),
       "output" = COALESCE(c.output, s."output"), "pool" = COALESCE(c.pool, s."pool"), "updated_at" = c.updated_at,
       "failed_items" = COALESCE(c.failed_items, s."failed_items")
  FROM jsonb_to_recordset($1::jsonb)
    AS c(request_id uuid, step_id text, status text, task_id text, attempts int, output jsonb, pool text, updated_at timestamptz, failed_items int[])
 WHERE s."request_id" = c.request_id AND s."step_id" = c.step_id`;

/** The requests' outcome columns as they stand in memory (their rows are locked by this transaction). */
const UPDATE_REQUESTS_SQL = `
UPDATE "act"."requests" AS r
   SET "status" = c.status, "completed_at" = c.completed_at, "updated_at" = c.updated_at, "result" = c.result, "end_details" = c.end_details
  FROM jsonb_to_recordset($1::jsonb) AS c(id uuid, status text, completed_at timestamptz, updated_at timestamptz, result jsonb, end_details jsonb)
 WHERE r."id" = c.id`;

/**
 * The writes of a batch of task events, made set-based: the steps of the batch's requests are
 * read in one statement and kept in memory (each change applied to them, so a later event of the
 * batch sees it), and the changes are written in two statements when the batch (or the part of
 * it before another kind of write) is done ({@link flush}), instead of a read and about three
 * writes per event. Every request it touches must be locked by the transaction
 * (`lockRequests`): nothing else changes them meanwhile, so their rows can be written as they
 * stand in memory, and their steps' reads stay true.
 */
export class BatchedWorkflowWrites implements WorkflowWrites {
  private steps?: Map<string, RequestStepEntity[]>;
  private readonly stepChanges = new Map<string, { requestId: string; stepId: string; changes: StepChanges }>();
  private readonly requests = new Map<string, RequestEntity>();

  /** `requestIds`: the requests whose steps the batch reads ({@link stepsOf}), read in one statement on first use. */
  constructor(private readonly requestIds: string[]) {}

  /** The request's steps, with this batch's changes so far. */
  async stepsOf(tx: EntityManager, requestId: string): Promise<RequestStepEntity[]> {
    this.steps ??= await loadStepsOfRequests(tx, this.requestIds);
    let steps = this.steps.get(requestId.toLowerCase());
    if (!steps) {
      // Not announced: read alone (the batch's requests are all announced; this keeps it correct if not).
      steps = (await loadStepsOfRequests(tx, [requestId])).get(requestId.toLowerCase()) ?? [];
      this.steps.set(requestId.toLowerCase(), steps);
    }
    return steps;
  }

  step(_tx: EntityManager, requestId: string, stepId: string, changes: StepChanges): Promise<void> {
    const key = stepKey(requestId, stepId);
    const merged = this.stepChanges.get(key) ?? { requestId, stepId, changes: { updatedAt: changes.updatedAt } };
    const stored = this.steps?.get(requestId.toLowerCase())?.find((step) => step.stepId === stepId);
    for (const [field, value] of Object.entries(changes) as Array<[keyof StepChanges, unknown]>) {
      // As the COALESCE of updateStep: a null or absent change keeps what is there.
      if (value === undefined || value === null) continue;
      (merged.changes as Record<string, unknown>)[field] = value;
      if (stored) (stored as unknown as Record<string, unknown>)[field] = value;
    }
    this.stepChanges.set(key, merged);
    return Promise.resolve();
  }

  request(_tx: EntityManager, request: RequestEntity): Promise<void> {
    this.requests.set(request.id.toLowerCase(), request);
    return Promise.resolve();
  }

  /** Writes the changes held so far (at most two statements). */
  async flush(tx: EntityManager): Promise<void> {
    if (this.stepChanges.size > 0) {
      const rows = [...this.stepChanges.values()].map(({ requestId, stepId, changes }) => ({
        request_id: requestId,
        step_id: stepId,
        status: changes.status,
        task_id: changes.taskId,
        attempts: changes.attempts,
        output: changes.output,
        pool: changes.pool,
        updated_at: changes.updatedAt.toISOString(),
        failed_items: changes.failedItems,
      }));
      this.stepChanges.clear();
      await preparedQuery(tx, 'act_update_steps', UPDATE_STEPS_SQL, [JSON.stringify(rows)]);
    }
    if (this.requests.size > 0) {
      const rows = [...this.requests.values()].map((request) => ({
        id: request.id,
        status: request.status,
        completed_at: request.completedAt?.toISOString() ?? null,
        updated_at: request.updatedAt.toISOString(),
        result: request.result ?? null,
        end_details: request.endDetails ?? null,
      }));
      this.requests.clear();
      await preparedQuery(tx, 'act_update_requests', UPDATE_REQUESTS_SQL, [JSON.stringify(rows)]);
    }
  }
}
