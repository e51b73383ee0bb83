import { GetPlanQuery, ListPlansQuery, RegisterPlanCommand } from './plans.messages';
import {
  CancelRequestCommand,
  CreateRequestCommand,
  GetRequestQuery,
  ListRequestsQuery,
  RequestHistoryQuery,
  VerifyHistoryQuery,
} from './requests.messages';
import { GetPoolQuery, ListPoolsQuery, SetPoolSlaCommand, UpsertPoolCommand } from './pools.messages';
import {
  CompleteTaskCommand,
  FailTaskCommand,
  GetTaskQuery,
  HeartbeatTaskCommand,
  LeaseTasksCommand,
  ListTasksQuery,
  PeekQueueQuery,
  ReleaseTaskCommand,
  RerouteQueueCommand,
  WorkerHeartbeatCommand,
  CompleteTasksCommand,
  RerouteTaskCommand,
} from './tasks.messages';
import { PoolMetricsQuery, PrometheusMetricsQuery } from './metrics.messages';
import { AcknowledgeAlertCommand, ListAlertsQuery, ResolveAlertCommand } from './alerts.messages';
import { ListScalingDecisionsQuery } from './scaling.messages';
import { ListParkedEventsQuery, ReplayParkedEventCommand } from './parked-events.messages';
import type { RpcSubject } from './subjects';

/**
 * The validated message class of every RPC subject. The NATS server layer turns each incoming
 * payload into an instance of it and refuses what does not validate, so handlers only ever see
 * well-formed input, whoever published it.
 */
export const RpcRequestClasses: { [S in RpcSubject]: new () => object } = {
  'act.plan.register': RegisterPlanCommand,
  'act.plan.get': GetPlanQuery,
  'act.plan.list': ListPlansQuery,
  'act.request.create': CreateRequestCommand,
  'act.request.get': GetRequestQuery,
  'act.request.list': ListRequestsQuery,
  'act.request.cancel': CancelRequestCommand,
  'act.request.history': RequestHistoryQuery,
  'act.request.verify': VerifyHistoryQuery,
  'oms.pool.upsert': UpsertPoolCommand,
  'oms.pool.get': GetPoolQuery,
  'oms.pool.list': ListPoolsQuery,
  'oms.pool.set-sla': SetPoolSlaCommand,
  'oms.queue.peek': PeekQueueQuery,
  'oms.queue.reroute': RerouteQueueCommand,
  'oms.worker.heartbeat': WorkerHeartbeatCommand,
  'oms.task.complete-many': CompleteTasksCommand,
  'oms.task.lease': LeaseTasksCommand,
  'oms.task.complete': CompleteTaskCommand,
  'oms.task.fail': FailTaskCommand,
  'oms.task.heartbeat': HeartbeatTaskCommand,
  'oms.task.release': ReleaseTaskCommand,
  'oms.task.reroute': RerouteTaskCommand,
  'oms.task.get': GetTaskQuery,
  'oms.task.list': ListTasksQuery,
  'ops.metrics.pools': PoolMetricsQuery,
  'ops.metrics.prometheus': PrometheusMetricsQuery,
  'ops.alert.list': ListAlertsQuery,
  'ops.alert.acknowledge': AcknowledgeAlertCommand,
  'ops.alert.resolve': ResolveAlertCommand,
  'ops.scaling.decisions': ListScalingDecisionsQuery,
  'act.parked-event.list': ListParkedEventsQuery,
  'act.parked-event.replay': ReplayParkedEventCommand,
  'oms.parked-event.list': ListParkedEventsQuery,
  'oms.parked-event.replay': ReplayParkedEventCommand,
  'ops.parked-event.list': ListParkedEventsQuery,
  'ops.parked-event.replay': ReplayParkedEventCommand,
};
