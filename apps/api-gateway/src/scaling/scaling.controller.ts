import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RpcSubjects, type Actor } from '@hms/contracts';
import { AllowRoles, CurrentActor } from '../auth/auth.guard';
import { RpcGateway } from '../http/rpc-gateway';
import { ApiAnswer } from '../openapi/api-answer';

/** Read by operators' dashboards and by services; OPS alone makes the decisions. */
@ApiTags('scaling')
@ApiBearerAuth()
@Controller('v1/scaling')
export class ScalingController {
  constructor(private readonly rpc: RpcGateway) {}

  @Get('decisions')
  @AllowRoles('service')
  @ApiOperation({
    summary:
      'Autoscaling decisions, newest first (filter pool; cursor pagination): desired = clamp(ceil(queued / tasksPerReplica), min, max), held back by the cooldown, written to the target Deployment',
  })
  @ApiAnswer(200, 'ScalingDecisionPage')
  decisions(@Query() query: Record<string, string>, @CurrentActor() actor: Actor) {
    return this.rpc.call(RpcSubjects.scalingDecisions, query as never, actor);
  }
}
