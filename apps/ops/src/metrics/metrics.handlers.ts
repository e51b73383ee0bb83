import { PoolMetricsQuery, RpcSubjects } from '@hms/contracts';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { RpcController } from '@hms/platform';
import { PoolMetricsService } from './pool-metrics.service';

@RpcController()
export class MetricsHandlers {
  constructor(private readonly metrics: PoolMetricsService) {}

  @MessagePattern(RpcSubjects.metricsPools)
  async metricsPools(@Payload() query: PoolMetricsQuery) {
    return { pools: await this.metrics.snapshot(query.pool) };
  }
}
