import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RpcSubjects, type Actor } from '@hms/contracts';
import { AllowRoles, CurrentActor } from '../auth/auth.guard';
import { RpcGateway } from '../http/rpc-gateway';

@ApiTags('metrics')
@ApiBearerAuth()
@Controller('v1/metrics')
@AllowRoles('service')
export class PoolMetricsController {
  constructor(private readonly rpc: RpcGateway) {}

  @Get('pools')
  @ApiOperation({ summary: 'Snapshot per pool: depth, leased, waits, throughput, success rate, workers' })
  pools(@Query() query: Record<string, string>, @CurrentActor() actor: Actor) {
    return this.rpc.call(RpcSubjects.metricsPools, query as never, actor);
  }
}
