import type {
  ApiErrorBody,
  AlertStatus,
  PoolMetrics,
  AlertView,
  HeartbeatResult,
  HistoryVerifyResult,
  LeaseTasksResult,
  LedgerEntryView,
  Page,
  PlanDefinition,
  PlanSummary,
  PlanView,
  PoolMetricsResult,
  PoolView,
  QueuePeekResult,
  RegisterPlanResult,
  RerouteQueueResult,
  WorkerHeartbeatResult,
  CompleteTaskResult,
  CompleteTasksResult,
  RequestSummary,
  RequestView,
  TaskActionResult,
  TaskCompletion,
  TaskView,
  ParkedEventView,
  ReplayParkedEventResult,
  ServiceName,
} from '@hms/contracts';
import { HmsApiError } from './hms-api-error';
import { HttpTransport, readEventStream, type CallOptions, type HttpTransportOptions, type RetryOptions } from './http-transport';
import { sleep } from './sleep';
import {
  TERMINAL_REQUEST_STATUSES,
  type CreatedRequest,
  type CreateRequestInput,
  type CreateRequestItem,
  type CreateRequestsAnswer,
  type CreateRequestOptions,
  type CompleteOptions,
  type ItemList,
  type ListAlertsFilter,
  type LeaseOptions,
  type ListRequestsFilter,
  type ListTasksFilter,
  type PageOptions,
  type PoolSettings,
  type RegisterPlanOptions,
  type RerouteQueueOptions,
  type ListScalingDecisionsFilter,
  type MetricsStreamEvent,
  type ScalingDecision,
  type TaskFailure,
  type WaitForOptions,
} from './types';

/** Settings of {@link HmsClient}. */
export interface HmsClientOptions extends HttpTransportOptions {
  /** Gateway root, e.g. `http://localhost:3000` (a path prefix is kept). */
  baseUrl: string;
  /** Bearer JWT (`hms token` makes one). Omit only for a gateway without auth. */
  token?: string;
  /** Replaces the global `fetch` (tests, proxies, instrumentation). */
  fetch?: typeof fetch;
  /** Per-call timeout; default 30 s. Long-poll leases add their wait on top. */
  timeoutMs?: number;
  /** Repeats of calls answered 429/503 with `Retry-After`; default `{ maxRetries: 2, maxDelayMs: 30_000 }`. */
  retry?: RetryOptions;
}

/** Thrown by `requests.waitFor` when the request did not reach a wanted status in time. */
export class WaitTimeoutError extends Error {
  constructor(
    message: string,
    /** The request as last seen, so callers can report where it got stuck; undefined if never read. */
    readonly last: RequestView | undefined,
  ) {
    super(message);
    this.name = 'WaitTimeoutError';
  }
}

const seg = encodeURIComponent;

/** The gateway sends `{items}`; a bare array is accepted too so a thin proxy does not break us. */
function asItemList<T>(body: ItemList<T> | T[] | undefined): ItemList<T> {
  if (Array.isArray(body)) return { items: body };
  return { items: body?.items ?? [] };
}

/** Walks every page of a cursor-paginated list. */
async function* paginate<T>(fetchPage: (cursor: string | undefined) => Promise<Page<T>>, first?: string): AsyncGenerator<T, void, undefined> {
  let cursor = first;
  do {
    const page = await fetchPage(cursor);
    yield* page.items;
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
}

/** Plans: versioned workflow definitions (API.md "Plans"). */
export class PlansApi {
  constructor(private readonly http: HttpTransport) {}

  /**
   * Registers a plan, canonical or in a seed dialect (docs/plans.md "Dialects"). A string is sent
   * as YAML source, an object as JSON. `id` names a plan whose file has none. `created` is false
   * when identical content already existed and its version is returned instead.
   */
  async register(plan: PlanDefinition | Record<string, unknown> | string, options: RegisterPlanOptions = {}): Promise<RegisterPlanResult> {
    const { id, ...callOptions } = options;
    const res = await this.http.send<Partial<RegisterPlanResult>>({
      method: 'POST',
      path: '/v1/plans',
      ...(id === undefined ? {} : { query: { id } }),
      ...(typeof plan === 'string' ? { text: { body: plan, contentType: 'application/yaml' } } : { json: plan }),
      ...callOptions,
    });
    return { ...(res.body as RegisterPlanResult), created: res.status === 201 };
  }

  /** The latest version of a plan, or the given version. */
  async get(id: string, version?: number, options?: CallOptions): Promise<PlanView> {
    const path = version === undefined ? `/v1/plans/${seg(id)}` : `/v1/plans/${seg(id)}/versions/${seg(String(version))}`;
    return (await this.http.send<PlanView>({ method: 'GET', path, ...options })).body;
  }

  /** Every plan with its latest version. */
  async list(options?: CallOptions): Promise<ItemList<PlanSummary>> {
    return asItemList((await this.http.send<ItemList<PlanSummary>>({ method: 'GET', path: '/v1/plans', ...options })).body);
  }
}

/** Requests: running instances of plans, and their ledger (API.md "Requests"). */
export class RequestsApi {
  constructor(private readonly http: HttpTransport) {}

  /** Starts a request. With an idempotency key a retried call returns the first request. */
  async create(input: CreateRequestInput, opts: CreateRequestOptions & CallOptions = {}): Promise<CreatedRequest> {
    const { idempotencyKey, ...options } = opts;
    const res = await this.http.send<Omit<CreatedRequest, 'created'>>({
      method: 'POST',
      path: '/v1/requests',
      json: input,
      ...(idempotencyKey ? { headers: { 'Idempotency-Key': idempotencyKey } } : {}),
      ...options,
    });
    return { ...res.body, created: res.status === 201 };
  }

  /**
   * Starts up to 1,000 requests in one call (`POST /v1/requests/batch`). Never throws for one
   * item: each answer is `{status: 201 | 200, request}` or `{status, error}`, in the order of the
   * items; an item's `idempotencyKey` makes it repeat-safe as the header does for `create`.
   */
  async createMany(items: CreateRequestItem[], options?: CallOptions): Promise<CreateRequestsAnswer> {
    return (await this.http.send<CreateRequestsAnswer>({ method: 'POST', path: '/v1/requests/batch', json: { items }, ...options })).body;
  }

  /** A request with its payload and steps. */
  async get(id: string, options?: CallOptions): Promise<RequestView> {
    return (await this.http.send<RequestView>({ method: 'GET', path: `/v1/requests/${seg(id)}`, ...options })).body;
  }

  /** One page of requests; pass `nextCursor` back as `cursor` for the next. */
  async list(filter: ListRequestsFilter = {}, options?: CallOptions): Promise<Page<RequestSummary>> {
    const { plan, status, reference, cursor, limit } = filter;
    const res = await this.http.send<Page<RequestSummary>>({
      method: 'GET',
      path: '/v1/requests',
      query: { plan, status, reference, cursor, limit },
      ...options,
    });
    return { items: res.body?.items ?? [], nextCursor: res.body?.nextCursor ?? null };
  }

  /** Every request matching the filter, fetching pages lazily as the loop advances. */
  listAll(filter: Omit<ListRequestsFilter, 'cursor'> & { cursor?: string } = {}, options?: CallOptions): AsyncGenerator<RequestSummary, void, undefined> {
    return paginate((cursor) => this.list({ ...filter, cursor }, options), filter.cursor);
  }

  /** Cancels a running request: open tasks are cancelled and their leases revoked. */
  async cancel(id: string, reason?: string, options?: CallOptions): Promise<RequestSummary> {
    return (
      await this.http.send<RequestSummary>({ method: 'POST', path: `/v1/requests/${seg(id)}/cancel`, json: reason === undefined ? {} : { reason }, ...options })
    ).body;
  }

  /** Ledger entries of the request, oldest first. */
  async history(id: string, page: PageOptions = {}, options?: CallOptions): Promise<Page<LedgerEntryView>> {
    const res = await this.http.send<Page<LedgerEntryView>>({
      method: 'GET',
      path: `/v1/requests/${seg(id)}/history`,
      query: { cursor: page.cursor, limit: page.limit },
      ...options,
    });
    return { items: res.body?.items ?? [], nextCursor: res.body?.nextCursor ?? null };
  }

  /** Every ledger entry of the request, oldest first, across pages. */
  historyAll(id: string, page: Pick<PageOptions, 'limit'> = {}, options?: CallOptions): AsyncGenerator<LedgerEntryView, void, undefined> {
    return paginate((cursor) => this.history(id, { ...page, cursor }, options));
  }

  /** Re-computes the request's hash chain on the server. */
  async verify(id: string, options?: CallOptions): Promise<HistoryVerifyResult> {
    return (await this.http.send<HistoryVerifyResult>({ method: 'GET', path: `/v1/requests/${seg(id)}/history/verify`, ...options })).body;
  }

  /**
   * Polls until the request reaches one of `statuses` (terminal ones by default) and returns it.
   * Transient gateway errors are retried, since a waiting caller cares about the end state only.
   */
  async waitFor(id: string, options: WaitForOptions = {}): Promise<RequestView> {
    const statuses = options.statuses ?? TERMINAL_REQUEST_STATUSES;
    const timeoutMs = options.timeoutMs ?? 60_000;
    const intervalMs = options.intervalMs ?? 1_000;
    const deadline = Date.now() + timeoutMs;
    let last: RequestView | undefined;
    for (;;) {
      try {
        last = await this.get(id, options.signal ? { signal: options.signal } : undefined);
        if (statuses.includes(last.status)) return last;
      } catch (error) {
        if (options.signal?.aborted || !(error instanceof HmsApiError && error.retryable)) throw error;
      }
      if (Date.now() + intervalMs > deadline) {
        const seen = last ? `it is ${last.status}` : 'it could not be read';
        throw new WaitTimeoutError(`request ${id} did not reach ${statuses.join('|')} within ${timeoutMs} ms; ${seen}`, last);
      }
      await sleep(intervalMs, options.signal);
      if (options.signal?.aborted) throw options.signal.reason;
    }
  }
}

/** Pools: the lanes tasks are queued in (API.md "Tasks, pools and leases"). */
export class PoolsApi {
  constructor(private readonly http: HttpTransport) {}

  /**
   * Creates or changes a pool. PUT semantics: a setting left out goes back to its default (a
   * left-out `workerLivenessSeconds` puts the pool back on the service's default window).
   */
  async put(pool: string, settings: PoolSettings, options?: CallOptions): Promise<PoolView> {
    return (await this.http.send<PoolView>({ method: 'PUT', path: `/v1/pools/${seg(pool)}`, json: settings, ...options })).body;
  }

  async get(pool: string, options?: CallOptions): Promise<PoolView> {
    return (await this.http.send<PoolView>({ method: 'GET', path: `/v1/pools/${seg(pool)}`, ...options })).body;
  }

  async list(options?: CallOptions): Promise<ItemList<PoolView>> {
    return asItemList((await this.http.send<ItemList<PoolView>>({ method: 'GET', path: '/v1/pools', ...options })).body);
  }

  /** Sets the SLA inherited by tasks queued in the pool from now on. */
  async setSla(pool: string, minutes: number, options?: CallOptions): Promise<PoolView> {
    return (await this.http.send<PoolView>({ method: 'PUT', path: `/v1/pools/${seg(pool)}/sla`, json: { minutes }, ...options })).body;
  }

  /** The head of the queue, without taking a lease. */
  async peek(pool: string, limit?: number, options?: CallOptions): Promise<QueuePeekResult> {
    return (await this.http.send<QueuePeekResult>({ method: 'GET', path: `/v1/pools/${seg(pool)}/queue`, query: { limit }, ...options })).body;
  }

  /**
   * Moves queued tasks of `pool` matching the filters to `reroute.toPool`, at most `limit` per
   * call (managers). Call again while `more` is true to move the rest.
   */
  async reroute(pool: string, reroute: RerouteQueueOptions, options?: CallOptions): Promise<RerouteQueueResult> {
    return (await this.http.send<RerouteQueueResult>({ method: 'POST', path: `/v1/pools/${seg(pool)}/reroute`, json: reroute, ...options })).body;
  }
}

/** Tasks and their leases (API.md "Tasks, pools and leases"). */
export class TasksApi {
  constructor(private readonly http: HttpTransport) {}

  /**
   * Leases up to `max` tasks of a pool. With `waitSeconds` the gateway holds the call until a task
   * arrives, so the HTTP timeout is stretched by that wait to not cut the long-poll short.
   */
  async lease(pool: string, lease: LeaseOptions, options: CallOptions = {}): Promise<LeaseTasksResult> {
    const waitMs = (lease.waitSeconds ?? 0) * 1000;
    const res = await this.http.send<LeaseTasksResult>({
      method: 'POST',
      path: `/v1/pools/${seg(pool)}/lease`,
      json: lease,
      ...options,
      timeoutMs: (options.timeoutMs ?? this.http.timeoutMs) + waitMs,
    });
    return { tasks: res.body?.tasks ?? [] };
  }

  /** Keeps a lease alive; returns the new expiry. */
  async heartbeat(id: string, leaseToken: string, extendSeconds?: number, options?: CallOptions): Promise<HeartbeatResult> {
    const json = extendSeconds === undefined ? { leaseToken } : { leaseToken, extendSeconds };
    return (await this.http.send<HeartbeatResult>({ method: 'POST', path: `/v1/tasks/${seg(id)}/heartbeat`, json, ...options })).body;
  }

  /**
   * Completes a leased task; repeating the same call is a harmless no-op. With `next`, the answer's
   * `next.tasks` are the worker's next leases (see {@link CompleteOptions}).
   */
  async complete(id: string, leaseToken: string, output: Record<string, unknown> = {}, options: CompleteOptions = {}): Promise<CompleteTaskResult> {
    const { next, ...call } = options;
    const json = next === undefined ? { leaseToken, output } : { leaseToken, output, next };
    return (await this.http.send<CompleteTaskResult>({ method: 'POST', path: `/v1/tasks/${seg(id)}/complete`, json, ...call })).body;
  }

  /**
   * Completes several leased tasks in one call (at most 100, e.g. a batch from `lease` with
   * `max`). Never throws for one item: each answer is `{id, status}` or `{id, error}`, in order.
   * With `next`, the answer also carries the next leases, taken after the items are settled.
   */
  async completeMany(items: TaskCompletion[], options: CompleteOptions = {}): Promise<CompleteTasksResult> {
    const { next, ...call } = options;
    const json = next === undefined ? { items } : { items, next };
    return (await this.http.send<CompleteTasksResult>({ method: 'POST', path: '/v1/tasks/complete', json, ...call })).body;
  }

  /** Fails the attempt; it is retried with backoff unless `retryable` is false or attempts are spent. */
  async fail(id: string, leaseToken: string, error: TaskFailure, retryable?: boolean, options?: CallOptions): Promise<TaskActionResult> {
    const json = retryable === undefined ? { leaseToken, error } : { leaseToken, error, retryable };
    return (await this.http.send<TaskActionResult>({ method: 'POST', path: `/v1/tasks/${seg(id)}/fail`, json, ...options })).body;
  }

  /**
   * Hands the task back to the queue at once without counting the attempt. Without `leaseToken`
   * it is a force-release, which only a manager's token may make.
   */
  async release(id: string, leaseToken?: string, options?: CallOptions): Promise<TaskActionResult> {
    const json = leaseToken === undefined ? {} : { leaseToken };
    return (await this.http.send<TaskActionResult>({ method: 'POST', path: `/v1/tasks/${seg(id)}/release`, json, ...options })).body;
  }

  /** Moves a task to another pool, revoking any lease (managers). */
  async reroute(id: string, pool: string, reason?: string, options?: CallOptions): Promise<TaskView> {
    const json = reason === undefined ? { pool } : { pool, reason };
    return (await this.http.send<TaskView>({ method: 'POST', path: `/v1/tasks/${seg(id)}/reroute`, json, ...options })).body;
  }

  async get(id: string, options?: CallOptions): Promise<TaskView> {
    return (await this.http.send<TaskView>({ method: 'GET', path: `/v1/tasks/${seg(id)}`, ...options })).body;
  }

  /** One page of tasks. */
  async list(filter: ListTasksFilter = {}, options?: CallOptions): Promise<Page<TaskView>> {
    const { pool, status, requestId, worker, cursor, limit } = filter;
    const res = await this.http.send<Page<TaskView>>({
      method: 'GET',
      path: '/v1/tasks',
      query: { pool, status, requestId, worker, cursor, limit },
      ...options,
    });
    return { items: res.body?.items ?? [], nextCursor: res.body?.nextCursor ?? null };
  }

  /** Every task matching the filter, across pages. */
  listAll(filter: ListTasksFilter = {}, options?: CallOptions): AsyncGenerator<TaskView, void, undefined> {
    return paginate((cursor) => this.list({ ...filter, cursor }, options), filter.cursor);
  }
}

/** Workers' own presence. */
export class WorkersApi {
  constructor(private readonly http: HttpTransport) {}

  /**
   * Keeps `worker` online in `pools` (and its leases safe from the gone-worker sweep) while it
   * makes no other call. Send it well within `livenessSeconds` of the answer (the smallest
   * liveness window among `pools`).
   */
  async heartbeat(worker: string, pools: string[], options?: CallOptions): Promise<WorkerHeartbeatResult> {
    return (await this.http.send<WorkerHeartbeatResult>({ method: 'POST', path: `/v1/workers/${seg(worker)}/heartbeat`, json: { pools }, ...options })).body;
  }
}

/** Live pool metrics (API.md "Metrics"). */
export class MetricsApi {
  constructor(private readonly http: HttpTransport) {}

  /** A JSON snapshot per pool. */
  async pools(options?: CallOptions): Promise<PoolMetricsResult> {
    const body = (await this.http.send<PoolMetricsResult>({ method: 'GET', path: '/v1/metrics/pools', ...options })).body;
    return { pools: body?.pools ?? [] };
  }

  /**
   * Live snapshots (`GET /v1/metrics/stream`, Server-Sent Events): each pool's, or `pool`'s, every
   * second, until `signal` aborts or the loop breaks. A second in which OPS did not answer
   * yields an `error` event and the stream goes on. The generator ends when the gateway ends the
   * stream (it shuts down), and throws HmsApiError UNAVAILABLE when the connection breaks; a bad
   * query or token throws before the first event.
   */
  stream(filter: { pool?: string } = {}, options: Pick<CallOptions, 'signal' | 'timeoutMs'> = {}): AsyncGenerator<MetricsStreamEvent, void, undefined> {
    const events = readEventStream(this.http, { path: '/v1/metrics/stream', query: { pool: filter.pool }, ...options });
    return (async function* () {
      for await (const { event, data } of events) {
        if (event === 'pool') yield { event: 'pool', snapshot: JSON.parse(data) as PoolMetrics };
        else if (event === 'error') yield { event: 'error', error: (JSON.parse(data) as ApiErrorBody).error };
      }
    })();
  }
}

/** SLA and dead-task alerts (API.md "Metrics, SLAs, alerts, scaling"). */
export class AlertsApi {
  constructor(private readonly http: HttpTransport) {}

  /** One page of alerts, newest first; a bare status is the filter `{status}`. */
  async list(filter: ListAlertsFilter | AlertStatus = {}, options?: CallOptions): Promise<Page<AlertView>> {
    const { status, pool, requestId, cursor, limit } = typeof filter === 'string' ? { status: filter } : (filter as ListAlertsFilter);
    const res = await this.http.send<Page<AlertView>>({ method: 'GET', path: '/v1/alerts', query: { status, pool, requestId, cursor, limit }, ...options });
    return { items: res.body?.items ?? [], nextCursor: res.body?.nextCursor ?? null };
  }

  /** Every alert matching the filter, across pages. */
  listAll(filter: ListAlertsFilter = {}, options?: CallOptions): AsyncGenerator<AlertView, void, undefined> {
    return paginate((cursor) => this.list({ ...filter, cursor }, options), filter.cursor);
  }

  /** Marks an alert as seen: its escalation (if not yet run) no longer runs. Repeating it is a no-op. */
  async ack(id: string, options?: CallOptions): Promise<AlertView> {
    return (await this.http.send<AlertView>({ method: 'POST', path: `/v1/alerts/${seg(id)}/ack`, json: {}, ...options })).body;
  }

  /** Closes an alert by hand (managers); alerts also resolve when their task or request ends. */
  async resolve(id: string, reason?: string, options?: CallOptions): Promise<AlertView> {
    return (await this.http.send<AlertView>({ method: 'POST', path: `/v1/alerts/${seg(id)}/resolve`, json: reason === undefined ? {} : { reason }, ...options })).body;
  }
}

/**
 * Events a service's consumer gave up on after its delivery limit (API.md "Parked events"):
 * managers list them per service and replay one once its cause is fixed.
 */
export class ParkedEventsApi {
  constructor(private readonly http: HttpTransport) {}

  /** One page of a service's parked events, newest first. */
  async list(service: ServiceName, page: PageOptions = {}, options?: CallOptions): Promise<Page<ParkedEventView>> {
    const res = await this.http.send<Page<ParkedEventView>>({ method: 'GET', path: '/v1/parked-events', query: { service, cursor: page.cursor, limit: page.limit }, ...options });
    return { items: res.body?.items ?? [], nextCursor: res.body?.nextCursor ?? null };
  }

  /** Every parked event of a service, across pages. */
  listAll(service: ServiceName, page: PageOptions = {}, options?: CallOptions): AsyncGenerator<ParkedEventView, void, undefined> {
    return paginate((cursor) => this.list(service, { ...page, cursor }, options), page.cursor);
  }

  /**
   * Runs a parked event through its consumer again: `replayed` true and the parked event is
   * gone, or false with the new error in `parkedEvent` (it stays parked).
   */
  async replay(service: ServiceName, id: string, options?: CallOptions): Promise<ReplayParkedEventResult> {
    return (await this.http.send<ReplayParkedEventResult>({ method: 'POST', path: `/v1/parked-events/${seg(service)}/${seg(id)}/replay`, json: {}, ...options })).body;
  }
}

/** OPS's autoscaling decisions (API.md "Metrics, SLAs, alerts, scaling"). */
export class ScalingApi {
  constructor(private readonly http: HttpTransport) {}

  /** One page of decisions, newest first; a bare string is the filter `{pool}`. */
  async decisions(filter: ListScalingDecisionsFilter | string = {}, options?: CallOptions): Promise<Page<ScalingDecision>> {
    const { pool, cursor, limit } = typeof filter === 'string' ? { pool: filter } : (filter as ListScalingDecisionsFilter);
    const res = await this.http.send<Page<ScalingDecision>>({ method: 'GET', path: '/v1/scaling/decisions', query: { pool, cursor, limit }, ...options });
    return { items: res.body?.items ?? [], nextCursor: res.body?.nextCursor ?? null };
  }

  /** Every decision matching the filter, across pages. */
  decisionsAll(filter: ListScalingDecisionsFilter = {}, options?: CallOptions): AsyncGenerator<ScalingDecision, void, undefined> {
    return paginate((cursor) => this.decisions({ ...filter, cursor }, options), filter.cursor);
  }
}

/**
 * Typed client of the HMS REST gateway. Every method returns the contract's DTOs and throws
 * {@link HmsApiError} for error answers and for calls that got no answer.
 *
 * @example
 * const hms = new HmsClient({ baseUrl: 'http://localhost:3000', token: process.env.HMS_TOKEN });
 * const { id } = await hms.requests.create({ plan: 'passport_renewal', payload: { name: 'Ada' } });
 * const done = await hms.requests.waitFor(id, { timeoutMs: 120_000 });
 */
export class HmsClient {
  readonly plans: PlansApi;
  readonly requests: RequestsApi;
  readonly pools: PoolsApi;
  readonly tasks: TasksApi;
  readonly workers: WorkersApi;
  readonly metrics: MetricsApi;
  readonly alerts: AlertsApi;
  readonly scaling: ScalingApi;
  readonly parkedEvents: ParkedEventsApi;
  /** The transport, for calls the namespaces do not cover yet. */
  readonly http: HttpTransport;

  constructor(options: HmsClientOptions) {
    this.http = new HttpTransport(options);
    this.plans = new PlansApi(this.http);
    this.requests = new RequestsApi(this.http);
    this.pools = new PoolsApi(this.http);
    this.tasks = new TasksApi(this.http);
    this.workers = new WorkersApi(this.http);
    this.metrics = new MetricsApi(this.http);
    this.alerts = new AlertsApi(this.http);
    this.scaling = new ScalingApi(this.http);
    this.parkedEvents = new ParkedEventsApi(this.http);
  }
}
