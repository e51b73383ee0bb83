import { Injectable } from '@nestjs/common';
import { requiredLeaseHolder, RpcSubjects } from '@hms/contracts';
import type { RpcHandlers } from '@hms/platform';
import { LeasesService } from '../leases/leases.service';
import { WorkerPresence } from '../workers/worker-presence';
import { TasksService } from './tasks.service';

type TaskSubject = (typeof RpcSubjects)[
  | 'queuePeek'
  | 'queueReroute'
  | 'taskLease'
  | 'taskComplete'
  | 'taskCompleteMany'
  | 'taskFail'
  | 'taskHeartbeat'
  | 'taskRelease'
  | 'taskReroute'
  | 'taskGet'
  | 'taskList'
  | 'workerHeartbeat'];

/** NATS adapters of the queue and task subjects: validated message in (by the RPC layer), contract type out. */
@Injectable()
export class TasksHandlers {
  constructor(
    private readonly tasks: TasksService,
    private readonly leases: LeasesService,
    private readonly presence: WorkerPresence,
  ) {}

  handlers(): Pick<RpcHandlers<'oms'>, TaskSubject> {
    return {
      [RpcSubjects.queuePeek]: (query) => this.tasks.peek(query.pool, query.limit),
      [RpcSubjects.queueReroute]: (command, { actor }) => this.tasks.rerouteQueue(command, actor),
      [RpcSubjects.taskLease]: (command, { actor, maxPayload }) => this.leases.lease(command, actor, maxPayload),
      [RpcSubjects.taskComplete]: (command, { actor, maxPayload }) => this.leases.complete(command, actor, maxPayload),
      [RpcSubjects.taskCompleteMany]: (command, { actor, maxPayload }) => this.leases.completeMany(command, actor, maxPayload),
      [RpcSubjects.taskFail]: (command, { actor, requestBytes, maxPayload }) => this.leases.fail(command, actor, { requestBytes, maxPayload }),
      [RpcSubjects.taskHeartbeat]: (command, { actor }) => this.leases.heartbeat(command, actor),
      [RpcSubjects.taskRelease]: (command, { actor }) => this.leases.release(command, actor),
      [RpcSubjects.taskReroute]: (command, { actor }) => this.tasks.reroute(command, actor),
      [RpcSubjects.taskGet]: (query, { actor }) => this.tasks.get(query.id, requiredLeaseHolder(actor)),
      [RpcSubjects.taskList]: (query, { maxPayload }) => this.tasks.list(query, maxPayload),
      [RpcSubjects.workerHeartbeat]: (command, { actor }) => this.presence.heartbeat(command, actor),
    };
  }
}
