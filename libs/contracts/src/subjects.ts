import type { Role } from './auth';
import type { ListPlansQuery, GetPlanQuery, PlanSummary, PlanView, RegisterPlanCommand, RegisterPlanResult } from './plans.messages';
import type {
  CancelRequestCommand,
  CreateRequestCommand,
  CreateRequestResult,
  CreateRequestsCommand,
  CreateRequestsResult,
  GetRequestQuery,
  HistoryVerifyResult,
  LedgerEntryView,
  ListRequestsQuery,
  RequestHistoryQuery,
  RequestSummary,
  RequestView,
  VerifyHistoryQuery,
} from './requests.messages';
import type { GetPoolQuery, ListPoolsQuery, PoolView, SetPoolSlaCommand, UpsertPoolCommand } from './pools.messages';
import type {
  CompleteTaskCommand,
  CompleteTaskResult,
  FailTaskCommand,
  GetTaskQuery,
  HeartbeatResult,
  HeartbeatTaskCommand,
  LeaseTasksCommand,
  LeaseTasksResult,
  ListTasksQuery,
  PeekQueueQuery,
  QueuePeekResult,
  ReleaseTaskCommand,
  RerouteQueueCommand,
  RerouteQueueResult,
  WorkerHeartbeatCommand,
  WorkerHeartbeatResult,
  CompleteTasksCommand,
  CompleteTasksResult,
  RerouteTaskCommand,
  TaskActionResult,
  TaskView,
} from './tasks.messages';
import type { PoolMetricsQuery, PoolMetricsResult, PrometheusMetricsQuery, PrometheusMetricsResult } from './metrics.messages';
import type { AcknowledgeAlertCommand, AlertView, ListAlertsQuery, ResolveAlertCommand } from './alerts.messages';
import type { ListScalingDecisionsQuery, ScalingDecisionView } from './scaling.messages';
import type { Page } from './pagination';
import type { ListParkedEventsQuery, ParkedEventView, ReplayParkedEventCommand, ReplayParkedEventResult } from './parked-events.messages';

/**
 * Every NATS request/reply subject, `<service>.<entity>.<verb>`. The one place subject strings are
 * written; a deployment-wide prefix (`HMS_SUBJECT_PREFIX`) is added by the NATS layer.
 */
export const RpcSubjects = {
  planRegister: 'act.plan.register',
  planGet: 'act.plan.get',
  planList: 'act.plan.list',
  requestCreate: 'act.request.create',
  requestCreateMany: 'act.request.create-many',
  requestGet: 'act.request.get',
  requestList: 'act.request.list',
  requestCancel: 'act.request.cancel',
  requestHistory: 'act.request.history',
  requestVerify: 'act.request.verify',
  poolUpsert: 'oms.pool.upsert',
  poolGet: 'oms.pool.get',
  poolList: 'oms.pool.list',
  poolSetSla: 'oms.pool.set-sla',
  queuePeek: 'oms.queue.peek',
  queueReroute: 'oms.queue.reroute',
  taskLease: 'oms.task.lease',
  taskComplete: 'oms.task.complete',
  taskCompleteMany: 'oms.task.complete-many',
  taskFail: 'oms.task.fail',
  taskHeartbeat: 'oms.task.heartbeat',
  taskRelease: 'oms.task.release',
  taskReroute: 'oms.task.reroute',
  taskGet: 'oms.task.get',
  taskList: 'oms.task.list',
  workerHeartbeat: 'oms.worker.heartbeat',
  metricsPools: 'ops.metrics.pools',
  metricsPrometheus: 'ops.metrics.prometheus',
  alertList: 'ops.alert.list',
  alertAcknowledge: 'ops.alert.acknowledge',
  alertResolve: 'ops.alert.resolve',
  scalingDecisions: 'ops.scaling.decisions',
  actParkedEventList: 'act.parked-event.list',
  actParkedEventReplay: 'act.parked-event.replay',
  omsParkedEventList: 'oms.parked-event.list',
  omsParkedEventReplay: 'oms.parked-event.replay',
  opsParkedEventList: 'ops.parked-event.list',
  opsParkedEventReplay: 'ops.parked-event.replay',
} as const;

/** Each service's parked-event subjects (every service with consumers answers the same two). */
export const ParkedEventSubjects = {
  act: { list: RpcSubjects.actParkedEventList, replay: RpcSubjects.actParkedEventReplay },
  oms: { list: RpcSubjects.omsParkedEventList, replay: RpcSubjects.omsParkedEventReplay },
  ops: { list: RpcSubjects.opsParkedEventList, replay: RpcSubjects.opsParkedEventReplay },
} as const satisfies { [N in ServiceName]: { list: `${N}.parked-event.list`; replay: `${N}.parked-event.replay` } };

/** The parked-event subjects of one service. */
export type ParkedEventSubject<N extends ServiceName> = `${N}.parked-event.list` | `${N}.parked-event.replay`;

/** The request and response type of each RPC subject. */
export interface RpcContract {
  'act.plan.register': { request: RegisterPlanCommand; response: RegisterPlanResult };
  'act.plan.get': { request: GetPlanQuery; response: PlanView };
  'act.plan.list': { request: ListPlansQuery; response: { items: PlanSummary[] } };
  'act.request.create': { request: CreateRequestCommand; response: CreateRequestResult };
  'act.request.create-many': { request: CreateRequestsCommand; response: CreateRequestsResult };
  'act.request.get': { request: GetRequestQuery; response: RequestView };
  'act.request.list': { request: ListRequestsQuery; response: Page<RequestSummary> };
  'act.request.cancel': { request: CancelRequestCommand; response: RequestSummary };
  'act.request.history': { request: RequestHistoryQuery; response: Page<LedgerEntryView> };
  'act.request.verify': { request: VerifyHistoryQuery; response: HistoryVerifyResult };
  'oms.pool.upsert': { request: UpsertPoolCommand; response: PoolView };
  'oms.pool.get': { request: GetPoolQuery; response: PoolView };
  'oms.pool.list': { request: ListPoolsQuery; response: { items: PoolView[] } };
  'oms.pool.set-sla': { request: SetPoolSlaCommand; response: PoolView };
  'oms.queue.peek': { request: PeekQueueQuery; response: QueuePeekResult };
  'oms.queue.reroute': { request: RerouteQueueCommand; response: RerouteQueueResult };
  'oms.task.lease': { request: LeaseTasksCommand; response: LeaseTasksResult };
  'oms.task.complete': { request: CompleteTaskCommand; response: CompleteTaskResult };
  'oms.task.complete-many': { request: CompleteTasksCommand; response: CompleteTasksResult };
  'oms.task.fail': { request: FailTaskCommand; response: TaskActionResult };
  'oms.task.heartbeat': { request: HeartbeatTaskCommand; response: HeartbeatResult };
  'oms.task.release': { request: ReleaseTaskCommand; response: TaskActionResult };
  'oms.task.reroute': { request: RerouteTaskCommand; response: TaskView };
  'oms.task.get': { request: GetTaskQuery; response: TaskView };
  'oms.task.list': { request: ListTasksQuery; response: Page<TaskView> };
  'oms.worker.heartbeat': { request: WorkerHeartbeatCommand; response: WorkerHeartbeatResult };
  'ops.metrics.pools': { request: PoolMetricsQuery; response: PoolMetricsResult };
  'ops.metrics.prometheus': { request: PrometheusMetricsQuery; response: PrometheusMetricsResult };
  'ops.alert.list': { request: ListAlertsQuery; response: Page<AlertView> };
  'ops.alert.acknowledge': { request: AcknowledgeAlertCommand; response: AlertView };
  'ops.alert.resolve': { request: ResolveAlertCommand; response: AlertView };
  'ops.scaling.decisions': { request: ListScalingDecisionsQuery; response: Page<ScalingDecisionView> };
  'act.parked-event.list': { request: ListParkedEventsQuery; response: Page<ParkedEventView> };
  'act.parked-event.replay': { request: ReplayParkedEventCommand; response: ReplayParkedEventResult };
  'oms.parked-event.list': { request: ListParkedEventsQuery; response: Page<ParkedEventView> };
  'oms.parked-event.replay': { request: ReplayParkedEventCommand; response: ReplayParkedEventResult };
  'ops.parked-event.list': { request: ListParkedEventsQuery; response: Page<ParkedEventView> };
  'ops.parked-event.replay': { request: ReplayParkedEventCommand; response: ReplayParkedEventResult };
}

/** One RPC subject. */
export type RpcSubject = keyof RpcContract;
export type RpcRequest<S extends RpcSubject> = RpcContract[S]['request'];
export type RpcResponse<S extends RpcSubject> = RpcContract[S]['response'];

/** The service that answers an RPC subject (its first token); also its queue group. */
export const ServiceNames = ['act', 'oms', 'ops'] as const;
export type ServiceName = (typeof ServiceNames)[number];
export function serviceOf(subject: RpcSubject): ServiceName {
  return subject.slice(0, subject.indexOf('.')) as ServiceName;
}

/** JetStream: the stream holding every event, and the subject of one event type. */
export const EventStream = {
  name: 'HMS_EVENTS',
  subjectRoot: 'hms.evt',
  subjectOf: (type: string): string => `hms.evt.${type}`,
  /** How long the stream keeps an event; an older one can no longer be delivered, or delivered again. */
  maxAgeSeconds: 7 * 24 * 3600,
  /**
   * Header of a message that carries several events (a JSON array body): a JSON array holding,
   * for each event in order, its W3C trace context (`{traceparent, tracestate}`) or null.
   */
  eventTracesHeader: 'Hms-Event-Traces',
} as const;

/**
 * Core-NATS (not persisted) signals between replicas: a task became available in a pool, so
 * long-polling lease calls on any OMS replica wake up.
 */
export const SignalSubjects = {
  poolTaskAvailable: (pool: string): string => `oms.signal.task-available.${pool}`,
  /** Pool names may contain dots, hence `>` rather than `*`. */
  anyPoolTaskAvailable: 'oms.signal.task-available.>',
} as const;

/** NATS header names used by the RPC layer. */
export const NatsHeaders = {
  actor: 'hms-actor',
  /**
   * HMAC of the subject and the `hms-actor` header with the deployment's actor key: only the
   * services and the gateway hold the key, so only their actor headers are believed.
   */
  actorSignature: 'hms-actor-sig',
  /** A bot's own HMS access token (the JWT it would send the gateway): its identity on NATS. */
  token: 'hms-token',
  traceparent: 'traceparent',
  tracestate: 'tracestate',
  messageId: 'Nats-Msg-Id',
} as const;

/**
 * The RPC subjects a bot may call straight over NATS, with the roles its token needs for each:
 * what the REST API grants a worker or a service token (a manager's token may call them all).
 * The NATS user of a bot may publish to these and nothing else (docs/security.md "NATS").
 */
export const BotRpcRoles = {
  [RpcSubjects.planGet]: ['service'],
  [RpcSubjects.planList]: ['service'],
  [RpcSubjects.requestCreate]: ['service'],
  [RpcSubjects.requestGet]: ['service'],
  [RpcSubjects.requestList]: ['service'],
  [RpcSubjects.requestHistory]: ['service'],
  [RpcSubjects.requestVerify]: ['service'],
  [RpcSubjects.poolGet]: ['worker'],
  [RpcSubjects.queuePeek]: ['worker'],
  [RpcSubjects.taskLease]: ['worker', 'service'],
  [RpcSubjects.taskComplete]: ['worker', 'service'],
  [RpcSubjects.taskCompleteMany]: ['worker', 'service'],
  [RpcSubjects.taskFail]: ['worker', 'service'],
  [RpcSubjects.taskHeartbeat]: ['worker', 'service'],
  [RpcSubjects.taskRelease]: ['worker', 'service'],
  [RpcSubjects.workerHeartbeat]: ['worker', 'service'],
  [RpcSubjects.metricsPools]: ['service'],
  [RpcSubjects.alertList]: ['service'],
  [RpcSubjects.scalingDecisions]: ['service'],
} as const satisfies { [S in RpcSubject]?: readonly Role[] };

/** The subjects of {@link BotRpcRoles}. */
export const BotRpcSubjects = Object.keys(BotRpcRoles) as Array<keyof typeof BotRpcRoles>;

/** The RPC subjects each service calls on another one (its NATS user may publish to these). */
export const ServiceRpcCalls: { [N in ServiceName]: readonly RpcSubject[] } = {
  act: [],
  oms: [],
  ops: [RpcSubjects.poolGet, RpcSubjects.poolList],
};
