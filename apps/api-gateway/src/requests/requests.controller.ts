import { Body, Controller, Get, Headers, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RpcSubjects, type Actor, type RequestSummary } from '@hms/contracts';
import type { FastifyReply } from 'fastify';
import { AllowRoles, CurrentActor } from '../auth/auth.guard';
import { bodyWith, RpcGateway } from '../http/rpc-gateway';
import { HTTP_STATUS_OF } from '../http/error-status';
import { ApiAnswer } from '../openapi/api-answer';
import { schemaRef } from '../openapi/schemas';

/** The public shape of a created request (API.md). */
function createdView(request: RequestSummary) {
  return { id: request.id, plan: request.plan, version: request.version, status: request.status, createdAt: request.createdAt, slaDueAt: request.slaDueAt, reference: request.reference };
}

@ApiTags('requests')
@ApiBearerAuth()
@Controller('v1/requests')
@AllowRoles('service')
export class RequestsController {
  constructor(private readonly rpc: RpcGateway) {}

  @Post()
  @ApiOperation({ summary: 'Start a request of a plan', description: '`plan` is a plan id, or a whole plan inline without `id` (registered as by POST /v1/plans, under `inline.<content hash>`).' })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'Same key and body: the same request (200); same key, other body: 409' })
  @ApiBody({ schema: schemaRef('CreateRequestCommand') })
  @ApiAnswer(201, 'RequestCreated', 'A new request', { setStatus: false })
  @ApiAnswer(200, 'RequestCreated', 'The request made before with the same Idempotency-Key and body', { setStatus: false })
  async create(
    @Body() body: unknown,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @CurrentActor() actor: Actor,
    @Res({ passthrough: true }) response: FastifyReply,
  ) {
    const command = bodyWith(body, idempotencyKey ? { idempotencyKey } : {});
    const result = await this.rpc.call(RpcSubjects.requestCreate, command as never, actor);
    response.status(result.created ? 201 : 200);
    return createdView(result.request);
  }

  @Post('batch')
  @ApiOperation({
    summary: 'Start up to 1,000 requests in one call; each item is answered as its own POST /v1/requests would be, in order, and a bad item fails alone',
  })
  @ApiBody({ schema: schemaRef('CreateRequestsCommand') })
  @ApiAnswer(200, 'CreateRequestsResult', '{results: [{status: 201 | 200, request: {id, plan, version, status, createdAt, slaDueAt, reference}} | {status: 4xx, error: {code, message, details}}]}, one per item in the order of the items; an item\'s idempotency key is its `idempotencyKey` field')
  async createMany(@Body() body: unknown, @CurrentActor() actor: Actor) {
    const { results } = await this.rpc.call(RpcSubjects.requestCreateMany, bodyWith(body, {}) as never, actor);
    return {
      results: results.map((result) =>
        result.error ? { status: HTTP_STATUS_OF[result.error.code], error: result.error } : { status: result.created ? 201 : 200, request: createdView(result.request) },
      ),
    };
  }

  @Get()
  @ApiOperation({ summary: 'List requests, newest first (cursor pagination)' })
  @ApiAnswer(200, 'RequestPage')
  list(@Query() query: Record<string, string>, @CurrentActor() actor: Actor) {
    return this.rpc.call(RpcSubjects.requestList, query as never, actor);
  }

  @Get(':id')
  @ApiOperation({ summary: 'A request with its steps' })
  @ApiAnswer(200, 'RequestView')
  get(@Param('id') id: string, @CurrentActor() actor: Actor) {
    return this.rpc.call(RpcSubjects.requestGet, { id }, actor);
  }

  @Post(':id/cancel')
  @AllowRoles()
  @ApiOperation({ summary: 'Cancel a running request; open tasks are cancelled, leases revoked' })
  @ApiBody({ schema: schemaRef('CancelRequestCommand') })
  @ApiAnswer(200, 'RequestSummary')
  cancel(@Param('id') id: string, @Body() body: unknown, @CurrentActor() actor: Actor) {
    return this.rpc.call(RpcSubjects.requestCancel, bodyWith(body, { id }) as never, actor);
  }

  @Get(':id/history')
  @ApiOperation({ summary: 'Ledger entries of the request, oldest first (cursor pagination)' })
  @ApiAnswer(200, 'LedgerPage')
  history(@Param('id') id: string, @Query() query: Record<string, string>, @CurrentActor() actor: Actor) {
    return this.rpc.call(RpcSubjects.requestHistory, { ...query, id } as never, actor);
  }

  @Get(':id/history/verify')
  @ApiOperation({ summary: 'Re-compute the hash chain of the request ledger and hold it against its head and the latest signed checkpoint' })
  @ApiAnswer(200, 'HistoryVerification')
  verify(@Param('id') id: string, @CurrentActor() actor: Actor) {
    return this.rpc.call(RpcSubjects.requestVerify, { id }, actor);
  }
}
