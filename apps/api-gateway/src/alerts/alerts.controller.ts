import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { RpcSubjects, type Actor } from '@hms/contracts';
import { AllowRoles, CurrentActor } from '../auth/auth.guard';
import { bodyWith, RpcGateway } from '../http/rpc-gateway';
import { schemaRef } from '../openapi/schemas';

const ALERT_SHAPE =
  'The alert: {id, kind (task-sla-breached | request-sla-breached | task-dead), status, pool, requestId, taskId, stepId, message, raisedAt, escalationDueAt, escalation: {at, pool, webhook: {url, status, attempts, deliveredAt, lastError}} | null, acknowledgedAt, acknowledgedBy, resolvedAt, resolvedBy, resolution}';

/** Alerts are read by services (dashboards, paging bridges) and handled by managers. */
@ApiTags('alerts')
@ApiBearerAuth()
@Controller('v1/alerts')
export class AlertsController {
  constructor(private readonly rpc: RpcGateway) {}

  @Get()
  @AllowRoles('service')
  @ApiOperation({ summary: 'List alerts, newest first (filters status, pool, requestId; cursor pagination)' })
  @ApiResponse({ status: 200, description: `{items, nextCursor}; each item: ${ALERT_SHAPE}` })
  list(@Query() query: Record<string, string>, @CurrentActor() actor: Actor) {
    return this.rpc.call(RpcSubjects.alertList, query as never, actor);
  }

  @Post(':id/ack')
  @HttpCode(200)
  @ApiOperation({ summary: 'Acknowledge an alert: its escalation, if not yet run, no longer runs (repeating it is a no-op; a resolved alert is 409)' })
  @ApiResponse({ status: 200, description: ALERT_SHAPE })
  acknowledge(@Param('id') id: string, @CurrentActor() actor: Actor) {
    return this.rpc.call(RpcSubjects.alertAcknowledge, { id }, actor);
  }

  @Post(':id/resolve')
  @HttpCode(200)
  @ApiOperation({ summary: 'Resolve an alert by hand (repeating it is a no-op); it cancels the open escalation task' })
  @ApiBody({ schema: schemaRef('ResolveAlertCommand') })
  @ApiResponse({ status: 200, description: ALERT_SHAPE })
  resolve(@Param('id') id: string, @Body() body: unknown, @CurrentActor() actor: Actor) {
    return this.rpc.call(RpcSubjects.alertResolve, bodyWith(body, { id }) as never, actor);
  }
}
