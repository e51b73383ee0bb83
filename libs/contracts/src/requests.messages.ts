import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsInt, IsNumber, IsObject, IsOptional, IsPositive, Max, Min, registerDecorator } from 'class-validator';
import type { ErrorCode, ErrorDetail } from './errors';
import { FixedLimits, INT4_MAX, IsBoundedJson, isSafeText, IsText } from './limits';
import { PageQuery } from './pagination';
import { RequestStatus, RequestStatuses, StepStatus } from './statuses';

/**
 * A plan id (contract text of at most `FixedLimits.idLength` characters) or a whole plan given
 * inline (an object; ACT validates it as a plan, sizes and text included).
 */
function IsPlanReference() {
  return (object: object, propertyName: string) =>
    registerDecorator({
      name: 'isPlanReference',
      target: object.constructor,
      propertyName,
      options: { message: `${propertyName} must be a plan id (1 to ${FixedLimits.idLength} characters, no NUL or unpaired surrogate) or a plan object` },
      validator: {
        validate(value: unknown) {
          if (typeof value === 'string') return value.length >= 1 && value.length <= FixedLimits.idLength && isSafeText(value);
          return typeof value === 'object' && value !== null && !Array.isArray(value);
        },
      },
    });
}

/** Start a request of a plan (API.md `POST /v1/requests`). */
export class CreateRequestCommand {
  /**
   * Plan id; or the plan itself, inline (any accepted dialect, without `id`): it is registered
   * like `POST /v1/plans` under `inline.<content hash>` and this request runs it.
   */
  @IsPlanReference()
  plan: string | Record<string, unknown>;

  /** Plan version; the latest when absent. */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(INT4_MAX)
  version?: number;

  /** The citizen ticket's data, visible to every task and to `when` expressions. */
  @IsOptional()
  @IsObject()
  @IsBoundedJson()
  payload?: Record<string, unknown>;

  /** The caller's own id for the ticket (searchable). */
  @IsOptional()
  @IsText(FixedLimits.nameLength)
  reference?: string;

  /** Added to each step's priority. */
  @IsOptional()
  @IsInt()
  @Min(-FixedLimits.requestPriority)
  @Max(FixedLimits.requestPriority)
  priority?: number;

  /** Overrides the plan's request SLA. */
  @IsOptional()
  @IsNumber()
  @IsPositive()
  @Max(FixedLimits.slaMinutes)
  slaMinutes?: number;

  /** From the `Idempotency-Key` header: same key and body give the same request. */
  @IsOptional()
  @IsText(FixedLimits.nameLength)
  idempotencyKey?: string;
}

/** A request without its steps. */
export interface RequestSummary {
  id: string;
  plan: string;
  version: number;
  status: RequestStatus;
  reference: string | null;
  priority: number;
  createdAt: string;
  updatedAt: string;
  slaDueAt: string | null;
  completedAt: string | null;
  /**
   * Escalations raised for this request (a flag, not a state): its own SLA breach
   * (`sla-breached`), and the alerts of its tasks (`task-sla-breached`, `task-dead`, with the alert's id).
   */
  escalations: Array<{ at: string; reason: string; alertId?: string }>;
}

/** One step of a request. */
export interface StepView {
  stepId: string;
  status: StepStatus;
  pool: string;
  taskId: string | null;
  attempts: number;
  /**
   * The task's output; a fan-out's (`forEach`): its items' outputs as a list by index, null where
   * an item died, or a summary object when that list is over the payload limit (docs/plans.md).
   */
  output: unknown;
  /** A fan-out's items: how many, how many completed and died so far; null for a step without `forEach` or not started. */
  items: { total: number; completed: number; failed: number } | null;
  updatedAt: string;
}

/** Why a request ended the way it did; both null while it runs and once it completed. */
export interface RequestEndDetails {
  /** The reason of a failure or cancel, or which step rejected it. */
  reason: string | null;
  /** The step that failed or rejected the request. */
  stepId: string | null;
}

/** What a caller reads of a request's outcome: the end's reason with the escalations raised on the way. */
export interface RequestDetails extends RequestEndDetails {
  escalations: RequestSummary['escalations'];
}

/** A request with its payload and steps. */
export interface RequestView extends RequestSummary {
  payload: Record<string, unknown>;
  createdBy: string;
  steps: StepView[];
  /** The plan's `output` (or `{<id>: output}` of its last steps) once the request completed; null until then and for any other end. */
  result: unknown;
  details: RequestDetails;
}

/** Answer to create: `created` is false when an idempotent repeat returned the earlier request. */
export interface CreateRequestResult {
  request: RequestSummary;
  created: boolean;
}

/**
 * Start many requests in one call (`POST /v1/requests/batch`). Each item is a
 * {@link CreateRequestCommand} (its idempotency key in the item) and is validated and answered on
 * its own, so the items are only required to be objects here: a bad item fails alone.
 */
export class CreateRequestsCommand {
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(FixedLimits.requestBatchItems)
  @IsObject({ each: true })
  items: Array<Record<string, unknown>>;
}

/** One item's answer: the request (created, or an idempotent repeat), or the error its own create would have got. */
export type CreateRequestOutcome = (CreateRequestResult & { error?: never }) | { request?: never; created?: never; error: { code: ErrorCode; message: string; details?: ErrorDetail[] } };

/** The answers of a batch create, one per item, in the order of the items. */
export interface CreateRequestsResult {
  results: CreateRequestOutcome[];
}

export class GetRequestQuery {
  @IsText(FixedLimits.idLength)
  id: string;
}

export class ListRequestsQuery extends PageQuery {
  @IsOptional()
  @IsText(FixedLimits.idLength)
  plan?: string;

  @IsOptional()
  @IsIn(RequestStatuses)
  status?: RequestStatus;

  @IsOptional()
  @IsText(FixedLimits.nameLength)
  reference?: string;
}

/** Cancel a running request: open tasks are cancelled and their leases revoked. */
export class CancelRequestCommand {
  @IsText(FixedLimits.idLength)
  id: string;

  @IsOptional()
  @IsText(FixedLimits.reasonLength, { minLength: 0 })
  reason?: string;
}

export class RequestHistoryQuery extends PageQuery {
  @IsText(FixedLimits.idLength)
  id: string;
}

/** One ledger entry (API.md history). */
export interface LedgerEntryView {
  seq: number;
  at: string;
  type: string;
  actor: string;
  data: Record<string, unknown>;
  hash: string;
  prevHash: string;
}

export class VerifyHistoryQuery {
  @IsText(FixedLimits.idLength)
  id: string;
}

/**
 * Result of re-computing a request's hash chain and holding it against the chain head and the
 * latest signed checkpoint.
 */
export interface HistoryVerifyResult {
  valid: boolean;
  /** Entries found in the ledger. */
  entries: number;
  /** The first entry that does not match (its hash, its link, the head or the checkpoint), when invalid. */
  brokenAt?: { seq: number; reason: string };
  /** What was found, in words (the same as `brokenAt.reason`), when invalid. */
  reason?: string;
}

