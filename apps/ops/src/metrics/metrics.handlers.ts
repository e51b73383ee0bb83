import { PoolMetricsQuery, PrometheusMetricsQuery, RpcSubjects } from '@hms/contracts';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { RpcController, seriesText } from '@hms/platform';
import { PoolMetricsService } from './pool-metrics.service';

/** Every OPS series is named `hms_*`; the process metrics (`process_*`, `nodejs_*`) stay on OPS's own page. */
const POOL_SERIES_PREFIX = 'hms_';

@RpcController()
export class MetricsHandlers {
  constructor(private readonly metrics: PoolMetricsService) {}

  @MessagePattern(RpcSubjects.metricsPools)
  async metricsPools(@Payload() query: PoolMetricsQuery) {
    return { pools: await this.metrics.snapshot(query.pool) };
  }

  /** The per-pool series in Prometheus text, for the gateway's `/metrics`. */
  @MessagePattern(RpcSubjects.metricsPrometheus)
  async metricsPrometheus(@Payload() _query: PrometheusMetricsQuery) {
    return { text: await seriesText(POOL_SERIES_PREFIX) };
  }
}
