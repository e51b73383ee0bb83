import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { EnvNumber, InfraConfig } from '@hms/platform';

export class OpsConfig extends InfraConfig {
  @EnvNumber()
  @IsOptional()
  @IsInt()
  override PORT: number = 3003;

  /** Window of the wait percentiles, throughput and success rate. */
  @EnvNumber()
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(24 * 60)
  OPS_METRICS_WINDOW_MINUTES: number = 60;
}
