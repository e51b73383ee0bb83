import { Injectable } from '@nestjs/common';
import type { RpcHandlers } from '@hms/platform';
import { PoolMetricsService } from './pool-metrics.service';

@Injectable()
export class MetricsHandlers {
  constructor(private readonly metrics: PoolMetricsService) {}

  handlers(): Pick<RpcHandlers<'ops'>, 'ops.metrics.pools'> {
    return {
      'ops.metrics.pools': async (query) => ({ pools: await this.metrics.snapshot(query.pool) }),
    };
  }
}
