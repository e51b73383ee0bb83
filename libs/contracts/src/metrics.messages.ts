import { IsOptional } from 'class-validator';
import { FixedLimits, IsText } from './limits';

/** JSON snapshot of one pool (API.md `GET /v1/metrics/pools`). */
export interface PoolMetrics {
  pool: string;
  depth: number;
  leased: number;
  oldestWaitSeconds: number;
  waitP50Seconds: number | null;
  waitP95Seconds: number | null;
  throughputPerMinute: number;
  successRate: number | null;
  workersOnline: number;
  desiredReplicas: number | null;
  updatedAt: string;
}

export class PoolMetricsQuery {
  @IsOptional()
  @IsText(FixedLimits.idLength)
  pool?: string;
}

export interface PoolMetricsResult {
  pools: PoolMetrics[];
}

/** `ops.metrics.prometheus` takes no fields: OPS answers with all its per-pool series. */
export class PrometheusMetricsQuery {}

/** The per-pool series (`hms_*`) in the Prometheus text exposition format, as OPS's `/metrics` has them. */
export interface PrometheusMetricsResult {
  text: string;
}
