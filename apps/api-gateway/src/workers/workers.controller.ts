import { Body, Controller, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { actingWorker, assertMayUsePools, poolsNamedIn, RpcSubjects, type Actor, type WorkerHeartbeatCommand } from '@hms/contracts';
import { AllowRoles, CurrentActor } from '../auth/auth.guard';
import { bodyWith, RpcGateway } from '../http/rpc-gateway';
import { ApiAnswer } from '../openapi/api-answer';
import { schemaRef } from '../openapi/schemas';

@ApiTags('workers')
@ApiBearerAuth()
@Controller('v1/workers')
export class WorkersController {
  constructor(private readonly rpc: RpcGateway) {}

  @Post(':worker/heartbeat')
  @AllowRoles('worker', 'service')
  @ApiOperation({ summary: 'Keep a worker online in its pools (and its leases safe from the gone-worker sweep) while it makes no other call' })
  @ApiBody({ schema: schemaRef('WorkerHeartbeatCommand') })
  @ApiAnswer(200, 'WorkerPresence')
  heartbeat(@Param('worker') worker: string, @Body() body: unknown, @CurrentActor() actor: Actor) {
    // A worker heartbeats only itself (OMS checks it again for callers that reach it over NATS).
    const command = bodyWith(body, { worker: actingWorker(actor, worker) }) as unknown as WorkerHeartbeatCommand;
    // A worker token names its pools; the shape of `pools` itself is checked by OMS.
    assertMayUsePools(actor, poolsNamedIn(command));
    return this.rpc.call(RpcSubjects.workerHeartbeat, command, actor);
  }
}
