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
