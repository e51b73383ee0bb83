import { Injectable } from '@nestjs/common';
import { seriesText, type RpcHandlers } from '@hms/platform';
import { PoolMetricsService } from './pool-metrics.service';

/** Every OPS series is named `hms_*`; the process metrics (`process_*`, `nodejs_*`) stay on OPS's own page. */
const POOL_SERIES_PREFIX = 'hms_';

@Injectable()
export class MetricsHandlers {
  constructor(private readonly metrics: PoolMetricsService) {}

  handlers(): Pick<RpcHandlers<'ops'>, 'ops.metrics.pools' | 'ops.metrics.prometheus'> {
    return {
      'ops.metrics.pools': async (query) => ({ pools: await this.metrics.snapshot(query.pool) }),
      'ops.metrics.prometheus': async () => ({ text: await seriesText(POOL_SERIES_PREFIX) }),
    };
  }
}
