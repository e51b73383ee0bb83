import { Controller, Get, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import { DomainError, ParkedEventSubjects, ServiceNames, type Actor, type ServiceName } from '@hms/contracts';
import { CurrentActor } from '../auth/auth.guard';
import { RpcGateway } from '../http/rpc-gateway';
import { ApiAnswer } from '../openapi/api-answer';

/** The service named in a path or query: one of act, oms, ops, else VALIDATION_FAILED on `service`. */
export function serviceNamed(value: unknown): ServiceName {
  if (typeof value === 'string' && (ServiceNames as readonly string[]).includes(value)) return value as ServiceName;
  throw new DomainError('VALIDATION_FAILED', `Unknown service; expected one of ${ServiceNames.join(', ')}`, [
    { path: 'service', message: `must be one of ${ServiceNames.join(', ')}` },
  ]);
}

/**
 * Events a service's consumer gave up on (docs/operations.md "Parked events"). Managers only (no
 * other role is declared): a replay runs a service's handler on data nobody else vetted.
 */
@ApiTags('parked-events')
@ApiBearerAuth()
@Controller('v1/parked-events')
export class ParkedEventsController {
  constructor(private readonly rpc: RpcGateway) {}

  @Get()
  @ApiOperation({ summary: 'List the events one service parked, newest first (cursor pagination; a page stops short of 256 KiB of events)' })
  @ApiQuery({ name: 'service', required: true, enum: ServiceNames })
  @ApiQuery({ name: 'cursor', required: false })
  @ApiQuery({ name: 'limit', required: false, schema: { type: 'integer', minimum: 1, maximum: 500 } })
  @ApiAnswer(200, 'ParkedEventPage')
  list(@Query() query: Record<string, unknown>, @CurrentActor() actor: Actor) {
    const { service, ...page } = query;
    return this.rpc.call(ParkedEventSubjects[serviceNamed(service)].list, page as never, actor);
  }

  @Post(':service/:id/replay')
  @ApiOperation({
    summary:
      "Run a parked event through its consumer's handler again: replayed true and the row is gone (its alert resolves), or replayed false with the new error in parkedEvent (the row stays)",
  })
  @ApiParam({ name: 'service', enum: ServiceNames })
  @ApiAnswer(200, 'ParkedEventReplay', 'replayed true with parkedEvent null, or replayed false with the parked event and its new error')
  replay(@Param('service') service: string, @Param('id') id: string, @CurrentActor() actor: Actor) {
    return this.rpc.call(ParkedEventSubjects[serviceNamed(service)].replay, { id }, actor);
  }
}
