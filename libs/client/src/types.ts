import type {
  CreateRequestCommand,
  ApiErrorBody,
  ErrorCode,
  ErrorDetail,
  ListScalingDecisionsQuery,
  PoolMetrics,
  ScalingDecisionView,
  ListAlertsQuery,
  LeaseTasksCommand,
  NextLease,
  RerouteQueueCommand,
  ListRequestsQuery,
  ListTasksQuery,
  PageQuery,
  RequestStatus,
  RequestSummary,
  UpsertPoolCommand,
} from '@hms/contracts';
import type { CallOptions } from './http-transport';

/**
 * Client-side shapes of the REST contract. Where a contract DTO exists it is reused; these only
 * drop fields the URL already carries or add what the HTTP status tells (`created`).
 */

/** Body of `POST /v1/requests`; the idempotency key travels as a header instead. */
export type CreateRequestInput = Omit<CreateRequestCommand, 'idempotencyKey'>;

/** Options of `plans.register`: the plan id for a file that has none (`?id=`), and the call's options. */
export interface RegisterPlanOptions extends CallOptions {
  id?: string;
}

/** Options of `requests.create` that are not part of the body. */
export interface CreateRequestOptions {
  /** Same key + same body returns the first request (200); same key + other body is 409. */
  idempotencyKey?: string;
}

/** Answer of `POST /v1/requests` plus whether it created the request (201) or repeated one (200). */
export type CreatedRequest = Pick<RequestSummary, 'id' | 'plan' | 'version' | 'status' | 'createdAt' | 'slaDueAt'> &
  Partial<RequestSummary> & { created: boolean };

/** One item of `requests.createMany`: a create body with its own idempotency key. */
export type CreateRequestItem = CreateRequestCommand;

/** One item's answer of `POST /v1/requests/batch`: the request (201 created, 200 repeated), or the error its own create would have got. */
export type CreateRequestsItemAnswer =
  | { status: 200 | 201; request: Omit<CreatedRequest, 'created'>; error?: never }
  | { status: number; error: { code: ErrorCode; message: string; details?: ErrorDetail[] }; request?: never };

/** Answer of `POST /v1/requests/batch`: one per item, in order. */
export interface CreateRequestsAnswer {
  results: CreateRequestsItemAnswer[];
}

/** Filter of `GET /v1/requests`. */
export type ListRequestsFilter = Partial<Pick<ListRequestsQuery, 'plan' | 'status' | 'reference' | 'cursor' | 'limit'>>;

/** Filter of `GET /v1/tasks`. */
export type ListTasksFilter = Partial<Pick<ListTasksQuery, 'pool' | 'status' | 'requestId' | 'worker' | 'cursor' | 'limit'>>;

/** Paging of `GET /v1/requests/:id/history`. */
export type PageOptions = Partial<Pick<PageQuery, 'cursor' | 'limit'>>;

/** Body of `PUT /v1/pools/:pool`; the pool name is in the path. */
export type PoolSettings = Omit<UpsertPoolCommand, 'pool'>;

/** Body of `POST /v1/pools/:pool/reroute`; the pool the tasks leave is in the path. */
export type RerouteQueueOptions = Omit<RerouteQueueCommand, 'pool'>;

/** Body of `POST /v1/pools/:pool/lease`; the pool name is in the path. */
export type LeaseOptions = Omit<LeaseTasksCommand, 'pool'>;

/**
 * Options of `tasks.complete` and `tasks.completeMany`. `next` leases the worker's next tasks in
 * the same call, once the completion is committed (never waiting: no tasks means "long-poll").
 */
export interface CompleteOptions extends CallOptions {
  next?: NextLease;
}

/** The error a worker reports with `tasks.fail`. */
export interface TaskFailure {
  message: string;
  code?: string;
}

/** A list answer without paging. */
export interface ItemList<T> {
  items: T[];
}

/** Filter of `GET /v1/alerts`. */
export type ListAlertsFilter = Partial<Pick<ListAlertsQuery, 'status' | 'pool' | 'requestId' | 'cursor' | 'limit'>>;

/** One autoscaling decision (API.md `GET /v1/scaling/decisions`); the contract's view under the SDK's name. */
export type ScalingDecision = ScalingDecisionView;

/** Filter of `GET /v1/scaling/decisions`. */
export type ListScalingDecisionsFilter = Partial<Pick<ListScalingDecisionsQuery, 'pool' | 'cursor' | 'limit'>>;

/** What `metrics.stream` yields: a pool's snapshot, or why OPS gave none this second (the stream goes on). */
export type MetricsStreamEvent = { event: 'pool'; snapshot: PoolMetrics } | { event: 'error'; error: ApiErrorBody['error'] };

/** Request statuses after which a request never changes again. */
export const TERMINAL_REQUEST_STATUSES: readonly RequestStatus[] = ['completed', 'rejected', 'failed', 'cancelled'];

/** Options of `requests.waitFor`. */
export interface WaitForOptions {
  /** Stop when the request reaches one of these; the terminal statuses by default. */
  statuses?: readonly RequestStatus[];
  /** Give up after this long (default 60 s) with a {@link WaitTimeoutError}. */
  timeoutMs?: number;
  /** Pause between polls (default 1 s). */
  intervalMs?: number;
  signal?: AbortSignal;
}
