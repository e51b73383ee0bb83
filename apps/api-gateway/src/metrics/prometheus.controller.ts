import { Controller, Get, Header } from '@nestjs/common';
import { ApiOperation, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import { RpcSubjects, systemActor } from '@hms/contracts';
import { InjectLogger, metricsRegistry } from '@hms/platform';
import type { Logger } from 'pino';
import { RpcGateway } from '../http/rpc-gateway';

const GATEWAY_ACTOR = systemActor('api-gateway');

/**
 * `GET /metrics` (public, like every route outside `/v1`): the gateway's own process metrics and
 * the per-pool series API.md lists, fetched from OPS at scrape time. The gauges are read from
 * Postgres, so any OPS replica gives the same values; the counters and the wait histogram are
 * those of the replica that answered (scrape each OPS replica's own `/metrics` to sum them).
 */
@ApiTags('metrics')
@Controller('metrics')
export class PrometheusController {
  constructor(
    private readonly rpc: RpcGateway,
    @InjectLogger() private readonly logger: Logger,
  ) {}

  @Get()
  @Header('Content-Type', metricsRegistry.contentType)
  @ApiOperation({ summary: 'Prometheus text: the gateway process metrics plus the per-pool series (hms_tasks_queued, …) from OPS' })
  @ApiProduces('text/plain')
  @ApiResponse({ status: 200, description: 'Prometheus text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } })
  async metrics(): Promise<string> {
    const [own, pools] = await Promise.all([metricsRegistry.metrics(), this.poolSeries()]);
    return `${own.endsWith('\n') ? own : `${own}\n`}${pools}`;
  }

  /** Without OPS the page still answers, with the gateway's own series and a comment saying why the rest are missing. */
  private async poolSeries(): Promise<string> {
    try {
      return (await this.rpc.call(RpcSubjects.metricsPrometheus, {}, GATEWAY_ACTOR)).text;
    } catch (error) {
      this.logger.warn({ err: error }, 'the per-pool series are missing from /metrics: OPS did not answer');
      return '# The per-pool series (hms_*) are missing: OPS did not answer.\n';
    }
  }
}
