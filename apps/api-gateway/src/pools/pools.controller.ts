import { Body, Controller, Get, Param, Post, Put, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { actingWorker, assertMayUsePools, RpcSubjects, type Actor, type LeaseTasksCommand } from '@hms/contracts';
import { AllowRoles, CurrentActor } from '../auth/auth.guard';
import { bodyWith, RpcGateway } from '../http/rpc-gateway';
import { ApiAnswer } from '../openapi/api-answer';
import { schemaRef } from '../openapi/schemas';

const POOL_VIEW =
  'The pool: {pool, kind, leaseSeconds, maxLeaseSeconds, slaMinutes, maxAttempts, autoscale, escalation, workerLivenessSeconds, createdAt, updatedAt}; workerLivenessSeconds is the effective window (its own, else OMS_WORKER_LIVENESS_SECONDS)';

@ApiTags('pools')
@ApiBearerAuth()
@Controller('v1/pools')
export class PoolsController {
  constructor(private readonly rpc: RpcGateway) {}

  @Get()
  @ApiOperation({ summary: 'List pools' })
  @ApiAnswer(200, 'PoolList')
  list(@CurrentActor() actor: Actor) {
    return this.rpc.call(RpcSubjects.poolList, {}, actor);
  }

  @Get(':pool')
  @AllowRoles('worker')
  @ApiOperation({ summary: 'One pool (a worker does not see `escalation.webhook`)' })
  @ApiAnswer(200, 'PoolView', POOL_VIEW)
  get(@Param('pool') pool: string, @CurrentActor() actor: Actor) {
    assertMayUsePools(actor, [pool]);
    return this.rpc.call(RpcSubjects.poolGet, { pool }, actor);
  }

  @Put(':pool')
  @ApiOperation({ summary: 'Create or change a pool' })
  @ApiBody({ schema: schemaRef('UpsertPoolCommand') })
  @ApiAnswer(200, 'PoolView', POOL_VIEW)
  upsert(@Param('pool') pool: string, @Body() body: unknown, @CurrentActor() actor: Actor) {
    return this.rpc.call(RpcSubjects.poolUpsert, bodyWith(body, { pool }) as never, actor);
  }

  @Put(':pool/sla')
  @ApiOperation({ summary: 'Change the SLA of tasks queued from now on' })
  @ApiBody({ schema: schemaRef('SetPoolSlaCommand') })
  @ApiAnswer(200, 'PoolView', POOL_VIEW)
  setSla(@Param('pool') pool: string, @Body() body: unknown, @CurrentActor() actor: Actor) {
    return this.rpc.call(RpcSubjects.poolSetSla, bodyWith(body, { pool }) as never, actor);
  }

  @Get(':pool/queue')
  @AllowRoles('worker')
  @ApiOperation({ summary: 'Peek at the queue, highest priority and oldest first, without leasing' })
  @ApiAnswer(200, 'QueuePeek')
  peek(@Param('pool') pool: string, @Query() query: Record<string, string>, @CurrentActor() actor: Actor) {
    assertMayUsePools(actor, [pool]);
    return this.rpc.call(RpcSubjects.queuePeek, { ...query, pool } as never, actor);
  }

  @Post(':pool/reroute')
  @ApiOperation({ summary: 'Move the queued tasks matching a filter to another pool (at most `limit` per call; `more` says if others match)' })
  @ApiBody({ schema: schemaRef('RerouteQueueCommand') })
  @ApiAnswer(200, 'QueueRerouted')
  rerouteQueue(@Param('pool') pool: string, @Body() body: unknown, @CurrentActor() actor: Actor) {
    return this.rpc.call(RpcSubjects.queueReroute, bodyWith(body, { pool }) as never, actor);
  }

  @Post(':pool/lease')
  @AllowRoles('worker', 'service')
  @ApiOperation({
    summary: 'Lease up to `max` tasks; with `waitSeconds`, long-polls until one is available. A worker token leases as itself (`worker` absent or its `sub`, else 403)',
  })
  @ApiBody({ schema: schemaRef('LeaseTasksCommand') })
  @ApiAnswer(200, 'LeaseResult', 'The leased tasks: at most `max`, and only as many as fit in one NATS message (the rest stay queued); none when nothing was available (within waitSeconds)')
  lease(@Param('pool') pool: string, @Body() body: unknown, @CurrentActor() actor: Actor) {
    assertMayUsePools(actor, [pool]);
    const command = bodyWith(body, { pool }) as unknown as LeaseTasksCommand;
    // A worker token is its own worker (OMS checks it again for callers that reach it over NATS).
    if (command.worker === undefined || typeof command.worker === 'string') command.worker = actingWorker(actor, command.worker);
    const waitSeconds = typeof command.waitSeconds === 'number' && command.waitSeconds > 0 ? Math.min(command.waitSeconds, 30) : 0;
    return this.rpc.call(RpcSubjects.taskLease, command, actor, waitSeconds * 1000);
  }
}
