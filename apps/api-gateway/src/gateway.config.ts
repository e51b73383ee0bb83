import { IsBoolean, IsInt, IsOptional, Max, Min } from 'class-validator';
import { DEFAULT_LIMITS, type LimitSettings } from '@hms/contracts';
import { EnvBoolean, EnvNumber, InfraConfig } from '@hms/platform';

export class GatewayConfig extends InfraConfig {
  @EnvNumber()
  @IsOptional()
  @IsInt()
  override PORT: number = 3000;

  /**
   * Calls one token subject may make per rate-limit window (then 429 RATE_LIMITED with
   * Retry-After). 200 per 10 s lets a bot lease and complete in batches and a dashboard poll,
   * and stops a runaway loop or a scripted flood within a window.
   */
  @EnvNumber()
  @IsOptional()
  @IsInt()
  @Min(1)
  GATEWAY_RATE_LIMIT_PER_TOKEN: number = 200;

  /** Calls without a valid token (including failed logins) one client address may make per window. */
  @EnvNumber()
  @IsOptional()
  @IsInt()
  @Min(1)
  GATEWAY_RATE_LIMIT_PER_ADDRESS: number = 50;

  @EnvNumber()
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(3600)
  GATEWAY_RATE_LIMIT_WINDOW_SECONDS: number = 10;

  /** `1` switches rate limits off: for load benchmarks only (they call far faster than any client). */
  @EnvBoolean()
  @IsOptional()
  @IsBoolean()
  HMS_RATE_LIMIT_DISABLED: boolean = false;

  /**
   * How many proxies in front of the gateway set X-Forwarded-For (Fastify's `trustProxy` hop
   * count): the client is the address that many hops back. 0 (no proxy): the socket's address is
   * the client's, and a forged header changes nothing.
   */
  @EnvNumber()
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(10)
  GATEWAY_TRUSTED_PROXIES: number = 0;

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
