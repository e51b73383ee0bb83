/**
 * The HMS TypeScript SDK: a typed REST client and the worker API. The `hms` CLI lives in
 * `cli.ts` and is deliberately not exported here, so SDK users do not pull in commander.
 */
export { HmsClient, WaitTimeoutError, PlansApi, RequestsApi, PoolsApi, TasksApi, WorkersApi, MetricsApi, AlertsApi, ScalingApi, ParkedEventsApi } from './hms-client';
export type { HmsClientOptions } from './hms-client';
export { HmsApiError, isHmsApiError } from './hms-api-error';
export { clientFromEnvironment, tokenSubject, DEFAULT_HMS_URL } from './env-client';
export type { EnvironmentClientOptions } from './env-client';
export { DEFAULT_RETRY, DEFAULT_TIMEOUT_MS } from './http-transport';
export type { CallOptions, HttpCall, HttpResult, HttpTransport, QueryParams, RetryOptions } from './http-transport';
export { Pool, PoolWorker, WorkItem, TaskError, toTaskFailure } from './worker';
export type { HandlerContext, LoginOptions, NextTaskOptions, RunOptions, RunSummary, TaskHandler } from './worker';
export { TERMINAL_REQUEST_STATUSES } from './types';
export type { AlertStatus, AlertView, AlertKind, CompleteTaskResult, HistoryVerifyResult, NextLease, PoolMetrics, ParkedEventView, QueuedTaskView, ReplayParkedEventResult, ServiceName, TaskStatus } from '@hms/contracts';
export type {
  CreatedRequest,
  CreateRequestInput,
  CreateRequestItem,
  CreateRequestsAnswer,
  CreateRequestsItemAnswer,
  CreateRequestOptions,
  CompleteOptions,
  ItemList,
  LeaseOptions,
  ListAlertsFilter,
  RerouteQueueOptions,
  ListRequestsFilter,
  ListTasksFilter,
  PageOptions,
  RegisterPlanOptions,
  PoolSettings,
  ScalingDecision,
  ListScalingDecisionsFilter,
  MetricsStreamEvent,
  TaskFailure,
  WaitForOptions,
} from './types';
