import { Body, Controller, Get, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RpcSubjects, type Actor } from '@hms/contracts';
import { AllowRoles, CurrentActor } from '../auth/auth.guard';
import { bodyWith, RpcGateway } from '../http/rpc-gateway';
import { ApiAnswer } from '../openapi/api-answer';
import { schemaRef } from '../openapi/schemas';

/** Alerts are read by services (dashboards, paging bridges) and handled by managers. */
@ApiTags('alerts')
@ApiBearerAuth()
@Controller('v1/alerts')
export class AlertsController {
  constructor(private readonly rpc: RpcGateway) {}

  @Get()
  @AllowRoles('service')
  @ApiOperation({ summary: 'List alerts, newest first (filters status, pool, requestId; cursor pagination)' })
  @ApiAnswer(200, 'AlertPage')
  list(@Query() query: Record<string, string>, @CurrentActor() actor: Actor) {
    return this.rpc.call(RpcSubjects.alertList, query as never, actor);
  }

  @Post(':id/ack')
  @ApiOperation({ summary: 'Acknowledge an alert: its escalation, if not yet run, no longer runs (repeating it is a no-op; a resolved alert is 409)' })
  @ApiAnswer(200, 'AlertView')
  acknowledge(@Param('id') id: string, @CurrentActor() actor: Actor) {
    return this.rpc.call(RpcSubjects.alertAcknowledge, { id }, actor);
  }

  @Post(':id/resolve')
  @ApiOperation({ summary: 'Resolve an alert by hand (repeating it is a no-op); it cancels the open escalation task' })
  @ApiBody({ schema: schemaRef('ResolveAlertCommand') })
  @ApiAnswer(200, 'AlertView')
  resolve(@Param('id') id: string, @Body() body: unknown, @CurrentActor() actor: Actor) {
    return this.rpc.call(RpcSubjects.alertResolve, bodyWith(body, { id }) as never, actor);
  }
}
