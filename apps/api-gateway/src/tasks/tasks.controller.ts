import { Body, Controller, Get, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { assertMayUsePools, poolsNamedIn, RpcSubjects, type Actor } from '@hms/contracts';
import { AllowRoles, CurrentActor } from '../auth/auth.guard';
import { bodyWith, RpcGateway } from '../http/rpc-gateway';
import { ApiAnswer } from '../openapi/api-answer';
import { schemaRef } from '../openapi/schemas';

/**
 * Calls made with a lease need no pool check here: the lease token was issued by a lease call
 * that checked the worker's pools. OMS checks the rest: the token holds the lease and, for a
 * worker token, its caller is the holder (a lease token another worker saw is not enough).
 * A complete's `next` is a lease, so its pool is checked as the lease route checks its own.
 */
@ApiTags('tasks')
@ApiBearerAuth()
@Controller('v1/tasks')
export class TasksController {
  constructor(private readonly rpc: RpcGateway) {}

  @Get()
  @ApiOperation({ summary: 'List tasks (filters pool, status, requestId, worker; cursor pagination)' })
  @ApiAnswer(200, 'TaskPage')
  list(@Query() query: Record<string, string>, @CurrentActor() actor: Actor) {
    return this.rpc.call(RpcSubjects.taskList, query as never, actor);
  }

  @Get(':id')
  @AllowRoles('worker', 'service')
  @ApiOperation({ summary: 'One task (a worker sees only a task it holds the lease of)' })
  @ApiAnswer(200, 'TaskView')
  get(@Param('id') id: string, @CurrentActor() actor: Actor) {
    return this.rpc.call(RpcSubjects.taskGet, { id }, actor);
  }

  @Post(':id/heartbeat')
  @AllowRoles('worker', 'service')
  @ApiOperation({ summary: 'Extend a lease' })
  @ApiBody({ schema: schemaRef('HeartbeatTaskCommand') })
  @ApiAnswer(200, 'LeaseExtended')
  heartbeat(@Param('id') id: string, @Body() body: unknown, @CurrentActor() actor: Actor) {
    return this.rpc.call(RpcSubjects.taskHeartbeat, bodyWith(body, { taskId: id }) as never, actor);
  }

  @Post('complete')
  @AllowRoles('worker', 'service')
  @ApiOperation({
    summary: 'Complete several leased tasks in one call; each item is answered as its own complete would be. With `next`, the answer also carries the next lease (no wait)',
  })
  @ApiBody({ schema: schemaRef('CompleteTasksCommand') })
  @ApiAnswer(200, 'CompleteManyResult', '{results: [{id, status} | {id, error: {code, message}}], next?: {tasks}}, the results in the order of the items')
  completeMany(@Body() body: unknown, @CurrentActor() actor: Actor) {
    assertMayUsePools(actor, poolsNamedIn(body));
    return this.rpc.call(RpcSubjects.taskCompleteMany, bodyWith(body, {}) as never, actor);
  }

  @Post(':id/complete')
  @AllowRoles('worker', 'service')
  @ApiOperation({
    summary: 'Complete a leased task (repeating the same call is a no-op 200). With `next`, the answer also carries the next lease, taken once the completion is committed (no wait)',
  })
  @ApiBody({ schema: schemaRef('CompleteTaskCommand') })
  @ApiAnswer(200, 'CompleteTaskResult', '{id, status, next?: {tasks}}')
  complete(@Param('id') id: string, @Body() body: unknown, @CurrentActor() actor: Actor) {
    assertMayUsePools(actor, poolsNamedIn(body));
    return this.rpc.call(RpcSubjects.taskComplete, bodyWith(body, { taskId: id }) as never, actor);
  }

  @Post(':id/fail')
  @AllowRoles('worker', 'service')
  @ApiOperation({ summary: 'Fail a leased task: retried with backoff until attempts are spent' })
  @ApiBody({ schema: schemaRef('FailTaskCommand') })
  @ApiAnswer(200, 'TaskActionResult', 'The task: queued again (retryAt says when it is offered) or dead')
  fail(@Param('id') id: string, @Body() body: unknown, @CurrentActor() actor: Actor) {
    return this.rpc.call(RpcSubjects.taskFail, bodyWith(body, { taskId: id }) as never, actor);
  }

  @Post(':id/release')
  @AllowRoles('worker', 'service')
  @ApiOperation({ summary: 'Give a leased task back to the queue (attempt not counted); a manager may omit leaseToken to force-release' })
  @ApiBody({ schema: schemaRef('ReleaseTaskCommand') })
  @ApiAnswer(200, 'TaskActionResult')
  release(@Param('id') id: string, @Body() body: unknown, @CurrentActor() actor: Actor) {
    return this.rpc.call(RpcSubjects.taskRelease, bodyWith(body, { taskId: id }) as never, actor);
  }

  @Post(':id/reroute')
  @ApiOperation({ summary: 'Move a task to another pool (lease revoked)' })
  @ApiBody({ schema: schemaRef('RerouteTaskCommand') })
  @ApiAnswer(200, 'TaskView')
  reroute(@Param('id') id: string, @Body() body: unknown, @CurrentActor() actor: Actor) {
    return this.rpc.call(RpcSubjects.taskReroute, bodyWith(body, { taskId: id }) as never, actor);
  }
}
