import { IsInt, IsOptional, IsString, IsUrl, Max, Min, MinLength } from 'class-validator';
import { DEFAULT_LIMITS, type LimitSettings } from '@hms/contracts';
import { EnvNumber, InfraConfig } from '@hms/platform';

export class GatewayConfig extends InfraConfig {
  @EnvNumber()
  @IsOptional()
  @IsInt()
  override PORT: number = 3000;

  /** HS256 secret of access tokens. Required unless HMS_JWT_JWKS_URL is set. */
  @IsOptional()
  @IsString()
  @MinLength(16, { message: 'HMS_JWT_SECRET must be at least 16 characters' })
  HMS_JWT_SECRET?: string;

  /** JWKS of an identity provider (RS256/ES256) for production. */
  @IsOptional()
  @IsUrl({ require_tld: false })
  HMS_JWT_JWKS_URL?: string;

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
