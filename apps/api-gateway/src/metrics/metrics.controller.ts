import { Controller, Get, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProduces, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { DomainError, RpcSubjects, type Actor, type PoolMetrics } from '@hms/contracts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AllowRoles, CurrentActor, TokenExpiresAt } from '../auth/auth.guard';
import { RpcGateway } from '../http/rpc-gateway';
import { ApiAnswer } from '../openapi/api-answer';
import { schemaRef } from '../openapi/schemas';
import { MetricsStream } from './metrics-stream';

/** A comment line this often keeps proxies from closing a stream whose pool is idle. */
const KEEP_ALIVE_MS = 15_000;

@ApiTags('metrics')
@ApiBearerAuth()
@Controller('v1/metrics')
@AllowRoles('service')
export class PoolMetricsController {
  constructor(
    private readonly rpc: RpcGateway,
    private readonly stream: MetricsStream,
  ) {}

  @Get('pools')
  @ApiOperation({ summary: 'Snapshot per pool: depth, leased, waits, throughput, success rate, workers, desired replicas' })
  @ApiAnswer(200, 'PoolMetricsList')
  pools(@Query() query: Record<string, string>, @CurrentActor() actor: Actor) {
    return this.rpc.call(RpcSubjects.metricsPools, query as never, actor);
  }

  /**
   * Server-Sent Events: an `event: pool` with the pool's snapshot (as in `GET /v1/metrics/pools`)
   * for every pool (or the one asked for) every second; `event: error` with API.md's error body
   * while OPS does not answer, after which the snapshots resume. The first snapshot is fetched
   * before the stream opens, so a bad query or an unreachable OPS is an ordinary error answer.
   * A token holds at most METRICS_STREAMS_PER_TOKEN streams (then 429), and a stream ends with an
   * `event: error` UNAUTHENTICATED when its token expires.
   */
  @Get('stream')
  @ApiOperation({ summary: 'Server-Sent Events: one `pool` event per pool per second, each a pool snapshot' })
  @ApiProduces('text/event-stream')
  @ApiQuery({ name: 'pool', required: false })
  @ApiResponse({
    status: 200,
    description: '`event: pool` data: a PoolMetrics; `event: error` data: an ApiError',
    // x-events: the schema of each event's data, by event name (checked by the e2e suite like any body).
    content: { 'text/event-stream': { schema: { type: 'string' }, 'x-events': { pool: schemaRef('PoolMetrics'), error: schemaRef('ApiError') } } as never },
  })
  async streamPools(
    @Query() query: Record<string, unknown>,
    @CurrentActor() actor: Actor,
    @TokenExpiresAt() expiresAt: Date,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const release = this.stream.admit(actor.id);
    // The stream is written to the Node response; Fastify's reply is used only for an error
    // answer before it opens (through the error filter).
    const response = reply.raw;
    // Everything the stream holds is let go here, whenever the client leaves: also while the
    // first snapshot is on its way, when nothing else is registered yet.
    const cleanups: Array<() => void> = [release];
    let closed = false;
    response.on('close', () => {
      closed = true;
      for (const cleanup of cleanups) cleanup();
    });
    let first: { pools: PoolMetrics[] };
    try {
      // OPS validates the query as for `GET /v1/metrics/pools` (a repeated `pool`, an unknown field: 400).
      first = await this.rpc.call(RpcSubjects.metricsPools, query as never, actor);
    } catch (error) {
      release();
      throw error;
    }
    // From here on the answer is this method's: Fastify must neither send one when the handler
    // returns nor touch the response afterwards (the security headers and the request id are on
    // it already, set by the `onRequest` hooks).
    reply.hijack();
    if (closed) return;
    const pool = query.pool as string | undefined;
    response.statusCode = 200;
    response.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    response.setHeader('Cache-Control', 'no-cache, no-transform');
    response.setHeader('Connection', 'keep-alive');
    // nginx-style proxies buffer responses unless told not to.
    response.setHeader('X-Accel-Buffering', 'no');
    response.flushHeaders();
    response.write('retry: 2000\n\n');
    const send = (pools: PoolMetrics[]) => {
      for (const snapshot of pools) if (pool === undefined || snapshot.pool === pool) response.write(`event: pool\ndata: ${JSON.stringify(snapshot)}\n\n`);
    };
    const sendError = (error: DomainError) =>
      response.write(`event: error\ndata: ${JSON.stringify({ error: { code: error.code, message: error.message }, requestId: request.id })}\n\n`);
    send(first.pools);
    cleanups.push(
      this.stream.listen((snapshot) => {
        if ('pools' in snapshot) return send(snapshot.pools);
        sendError(snapshot.error instanceof DomainError ? snapshot.error : new DomainError('UNAVAILABLE', 'Metrics are unavailable'));
      }, () => response.end()),
    );
    const keepAlive = setInterval(() => response.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
    // The token's authority ends with it: the client must reconnect with a fresh one.
    const expiry = setTimeout(() => {
      sendError(new DomainError('UNAUTHENTICATED', 'The access token expired'));
      response.end();
    }, Math.max(0, expiresAt.getTime() - Date.now()));
    cleanups.push(() => clearInterval(keepAlive), () => clearTimeout(expiry));
  }
}
