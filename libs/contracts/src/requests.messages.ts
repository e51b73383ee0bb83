import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsInt, IsNumber, IsObject, IsOptional, IsPositive, Max, Min } from 'class-validator';
import type { ErrorCode, ErrorDetail } from './errors';
import { FixedLimits, INT4_MAX, IsBoundedJson, IsText } from './limits';
import { PageQuery } from './pagination';
import { RequestStatus, RequestStatuses, StepStatus } from './statuses';

/** Start a request of a plan (API.md `POST /v1/requests`). */
export class CreateRequestCommand {
  /** Plan id. */
  @IsText(FixedLimits.idLength)
  plan: string;

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
  output: Record<string, unknown> | null;
  updatedAt: string;
}

/** A request with its payload and steps. */
export interface RequestView extends RequestSummary {
  payload: Record<string, unknown>;
  createdBy: string;
  steps: StepView[];
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

/** Result of re-computing a request's hash chain. */
export interface HistoryVerifyResult {
  valid: boolean;
  entries: number;
  /** The first entry whose hash or link does not match, when invalid. */
  brokenAt?: { seq: number; reason: string };
}

