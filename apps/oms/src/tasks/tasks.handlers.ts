import {
  CompleteTaskCommand,
  CompleteTasksCommand,
  FailTaskCommand,
  GetTaskQuery,
  HeartbeatTaskCommand,
  LeaseTasksCommand,
  ListTasksQuery,
  PeekQueueQuery,
  ReleaseTaskCommand,
  RerouteQueueCommand,
  RerouteTaskCommand,
  requiredLeaseHolder,
  RpcSubjects,
  WorkerHeartbeatCommand,
} from '@hms/contracts';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import { RpcController, type RpcCall } from '@hms/platform';
import { LeasesService } from '../leases/leases.service';
import { WorkerPresence } from '../workers/worker-presence';
import { TasksService } from './tasks.service';

/** NATS handlers of the queue and task subjects: validated message in (by the RPC pipe), contract type out. */
@RpcController()
export class TasksHandlers {
  constructor(
    private readonly tasks: TasksService,
    private readonly leases: LeasesService,
    private readonly presence: WorkerPresence,
  ) {}

  @MessagePattern(RpcSubjects.queuePeek)
  queuePeek(@Payload() query: PeekQueueQuery) {
    return this.tasks.peek(query.pool, query.limit);
  }

  @MessagePattern(RpcSubjects.queueReroute)
  queueReroute(@Payload() command: RerouteQueueCommand, @Ctx() { actor }: RpcCall) {
    return this.tasks.rerouteQueue(command, actor);
  }

  @MessagePattern(RpcSubjects.taskLease)
  taskLease(@Payload() command: LeaseTasksCommand, @Ctx() { actor, maxPayload }: RpcCall) {
    return this.leases.lease(command, actor, maxPayload);
  }

  @MessagePattern(RpcSubjects.taskComplete)
  taskComplete(@Payload() command: CompleteTaskCommand, @Ctx() { actor, maxPayload }: RpcCall) {
    return this.leases.complete(command, actor, maxPayload);
  }

  @MessagePattern(RpcSubjects.taskCompleteMany)
  taskCompleteMany(@Payload() command: CompleteTasksCommand, @Ctx() { actor, maxPayload }: RpcCall) {
    return this.leases.completeMany(command, actor, maxPayload);
  }

  @MessagePattern(RpcSubjects.taskFail)
  taskFail(@Payload() command: FailTaskCommand, @Ctx() { actor, requestBytes, maxPayload }: RpcCall) {
    return this.leases.fail(command, actor, { requestBytes, maxPayload });
  }

  @MessagePattern(RpcSubjects.taskHeartbeat)
  taskHeartbeat(@Payload() command: HeartbeatTaskCommand, @Ctx() { actor }: RpcCall) {
    return this.leases.heartbeat(command, actor);
  }

  @MessagePattern(RpcSubjects.taskRelease)
  taskRelease(@Payload() command: ReleaseTaskCommand, @Ctx() { actor }: RpcCall) {
    return this.leases.release(command, actor);
  }

  @MessagePattern(RpcSubjects.taskReroute)
  taskReroute(@Payload() command: RerouteTaskCommand, @Ctx() { actor }: RpcCall) {
    return this.tasks.reroute(command, actor);
  }

  @MessagePattern(RpcSubjects.taskGet)
  taskGet(@Payload() query: GetTaskQuery, @Ctx() { actor }: RpcCall) {
    return this.tasks.get(query.id, requiredLeaseHolder(actor));
  }

  @MessagePattern(RpcSubjects.taskList)
  taskList(@Payload() query: ListTasksQuery, @Ctx() { maxPayload }: RpcCall) {
    return this.tasks.list(query, maxPayload);
  }

  @MessagePattern(RpcSubjects.workerHeartbeat)
  workerHeartbeat(@Payload() command: WorkerHeartbeatCommand, @Ctx() { actor }: RpcCall) {
    return this.presence.heartbeat(command, actor);
  }
}
