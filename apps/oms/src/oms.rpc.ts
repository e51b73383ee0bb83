import { RpcSubjects } from '@hms/contracts';
import { answeredBy, parkedEventHandlers, type RpcRoutes } from '@hms/platform';
import { PoolsHandlers } from './pools/pools.handlers';
import { TasksHandlers } from './tasks/tasks.handlers';

const parked = parkedEventHandlers('oms');

/** The handler method of each OMS subject: exactly one each, or this does not compile. */
export const OMS_RPC_ROUTES: RpcRoutes<'oms'> = {
  [RpcSubjects.queuePeek]: answeredBy(TasksHandlers, 'queuePeek'),
  [RpcSubjects.queueReroute]: answeredBy(TasksHandlers, 'queueReroute'),
  [RpcSubjects.taskLease]: answeredBy(TasksHandlers, 'taskLease'),
  [RpcSubjects.taskComplete]: answeredBy(TasksHandlers, 'taskComplete'),
  [RpcSubjects.taskCompleteMany]: answeredBy(TasksHandlers, 'taskCompleteMany'),
  [RpcSubjects.taskFail]: answeredBy(TasksHandlers, 'taskFail'),
  [RpcSubjects.taskHeartbeat]: answeredBy(TasksHandlers, 'taskHeartbeat'),
  [RpcSubjects.taskRelease]: answeredBy(TasksHandlers, 'taskRelease'),
  [RpcSubjects.taskReroute]: answeredBy(TasksHandlers, 'taskReroute'),
  [RpcSubjects.taskGet]: answeredBy(TasksHandlers, 'taskGet'),
  [RpcSubjects.taskList]: answeredBy(TasksHandlers, 'taskList'),
  [RpcSubjects.workerHeartbeat]: answeredBy(TasksHandlers, 'workerHeartbeat'),
  [RpcSubjects.poolUpsert]: answeredBy(PoolsHandlers, 'poolUpsert'),
  [RpcSubjects.poolGet]: answeredBy(PoolsHandlers, 'poolGet'),
  [RpcSubjects.poolList]: answeredBy(PoolsHandlers, 'poolList'),
  [RpcSubjects.poolSetSla]: answeredBy(PoolsHandlers, 'poolSetSla'),
  ...parked.routes,
};
