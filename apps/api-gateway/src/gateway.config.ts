import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { DEFAULT_LIMITS, type LimitSettings } from '@hms/contracts';
import { EnvNumber, InfraConfig } from '@hms/platform';

export class GatewayConfig extends InfraConfig {
  @EnvNumber()
  @IsOptional()
  @IsInt()
  override PORT: number = 3000;

  /**
   * Largest accepted request body, in KiB (docs/limits.md). Above a payload's limit so a full
   * payload fits with its envelope, and well under NATS's 1 MiB message limit, since the body is
   * forwarded as one NATS request.
   */
  @EnvNumber()
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(102_400)
  GATEWAY_BODY_LIMIT_KB: number = DEFAULT_LIMITS.requestBodyBytes / 1024;

  /** How long the gateway waits for a service before answering 503. */
  @EnvNumber()
  @IsOptional()
  @IsInt()
  @Min(100)
  GATEWAY_RPC_TIMEOUT_MS: number = 10_000;

  override limitSettings(): Partial<LimitSettings> {
    return { ...super.limitSettings(), requestBodyBytes: this.GATEWAY_BODY_LIMIT_KB * 1024 };
  }
}
