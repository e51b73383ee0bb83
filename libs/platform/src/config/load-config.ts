import { plainToInstance, Transform } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, IsUrl, Matches, Max, Min, MinLength, ValidateIf, validateSync, ValidationError } from 'class-validator';
import { configureLimits, DEFAULT_LIMITS, DEFAULT_TOKEN_MAX_LIFETIME_SECONDS, EventDeliveryLimits, type LimitSettings } from '@hms/contracts';
import { DEFAULT_DATABASE_TIMEOUTS } from '../database/data-source';

/**
 * Settings every service shares. Infrastructure is unprefixed (`DATABASE_URL`, `NATS_URL`);
 * each app extends this class with its own prefixed settings.
 */
export class InfraConfig {
  /** Required by services with a schema (checked when their database is set up); the gateway has none. */
  @IsOptional()
  @Matches(/^postgres(ql)?:\/\//, { message: 'DATABASE_URL must be a postgres:// URL' })
  DATABASE_URL?: string;

  /**
   * The schema owner's URL, for migrations (and the grants that follow them); the service then
   * works as the `DATABASE_URL` role, which cannot alter the schema or rewrite the ledger.
   * Unset: `DATABASE_URL` does both (the dev default; production must separate them).
   */
  @IsOptional()
  @Matches(/^postgres(ql)?:\/\//, { message: 'DATABASE_MIGRATION_URL must be a postgres:// URL' })
  DATABASE_MIGRATION_URL?: string;

  @Matches(/^(nats|tls|ws|wss):\/\/|^[^:/]+:\d+$/, { message: 'NATS_URL must be a nats:// URL' })
  NATS_URL: string;

  /**
   * This service's NATS user and password (docs/security.md "NATS"). Unset only against a NATS
   * without authentication (a developer's own server): every deployment sets them.
   */
  @IsOptional()
  @Matches(/^[A-Za-z0-9_-]+$/, { message: 'NATS_USER must be letters, digits, "-" or "_"' })
  NATS_USER?: string;

  @ValidateIf((config: InfraConfig) => config.NATS_USER !== undefined)
  @IsString({ message: 'NATS_PASSWORD is required with NATS_USER' })
  NATS_PASSWORD?: string;

  /**
   * The deployment's key for signing the `hms-actor` header between the services and the
   * gateway; only they hold it. Required with NATS_USER: without it any NATS client's actor
   * header is believed.
   */
  @ValidateIf((config: InfraConfig) => config.NATS_USER !== undefined || config.HMS_ACTOR_KEY !== undefined)
  @IsString({ message: 'HMS_ACTOR_KEY is required with NATS_USER' })
  @MinLength(32, { message: 'HMS_ACTOR_KEY must be at least 32 characters' })
  HMS_ACTOR_KEY?: string;

  /**
   * Another key whose signatures are believed, never used to sign: the next key while a rotation
   * reaches every replica, then the previous one (docs/security.md "NATS").
   */
  @IsOptional()
  @MinLength(32, { message: 'HMS_ACTOR_KEY_ACCEPTED must be at least 32 characters' })
  HMS_ACTOR_KEY_ACCEPTED?: string;

  /**
   * HS256 secret of access tokens: the gateway verifies bearer tokens with it, and the services
   * the token a bot sends over NATS. The gateway needs it unless HMS_JWT_JWKS_URL is set.
   */
  @IsOptional()
  @IsString()
  @MinLength(16, { message: 'HMS_JWT_SECRET must be at least 16 characters' })
  HMS_JWT_SECRET?: string;

  /** JWKS of an identity provider (RS256/ES256) for production; https only, so the keys cannot be swapped on the wire. */
  @IsOptional()
  @IsUrl({ require_tld: false, protocols: ['https'], require_protocol: true }, { message: 'HMS_JWT_JWKS_URL must be an https URL' })
  HMS_JWT_JWKS_URL?: string;

  /** Longest accepted token lifetime (`exp` - `iat`): a stolen token is worth at most this long. */
  @Transform(({ value }) => (value === undefined || value === '' ? undefined : Number(value)))
  @IsOptional()
  @IsInt()
  @Min(60)
  @Max(7 * 24 * 3600)
  HMS_JWT_MAX_LIFETIME_SECONDS: number = DEFAULT_TOKEN_MAX_LIFETIME_SECONDS;

  /** When set, a token's `iss` must equal it (set it with an identity provider that issues for several systems). */
  @IsOptional()
  @IsString()
  HMS_JWT_ISSUER?: string;

  /** When set, a token's `aud` must contain it (so a token issued for another system is refused here). */
  @IsOptional()
  @IsString()
  HMS_JWT_AUDIENCE?: string;

  /** Prepended to every NATS subject and stream name, so several deployments (or test runs) share one NATS. */
  @IsOptional()
  @Matches(/^([a-zA-Z0-9_-]+\.)?$/, { message: 'HMS_SUBJECT_PREFIX must be empty or a token followed by a dot, e.g. "t42."' })
  HMS_SUBJECT_PREFIX: string = '';

  @IsOptional()
  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL: string = 'info';

  /** HTTP port for health, metrics (and the REST API on the gateway). */
  @Transform(({ value }) => (value === undefined || value === '' ? undefined : Number(value)))
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT: number;

  @IsOptional()
  @IsString()
  OTEL_EXPORTER_OTLP_ENDPOINT?: string;

  /** Replicas of the event stream: 3 on a NATS cluster in production, 1 on a single server. */
  @Transform(({ value }) => (value === undefined || value === '' ? undefined : Number(value)))
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(5)
  HMS_JETSTREAM_REPLICAS: number = 1;

  /** Largest request payload, task output or schedule payload, in KiB of UTF-8 JSON (docs/limits.md). */
  @Transform(({ value }) => (value === undefined || value === '' ? undefined : Number(value)))
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(65_536)
  HMS_LIMIT_PAYLOAD_KB: number = DEFAULT_LIMITS.payloadBytes / 1024;

  /** Deepest nesting of a JSON value in a message (payload, output, plan). Deeper values cost recursion everywhere they go. */
  @Transform(({ value }) => (value === undefined || value === '' ? undefined : Number(value)))
  @IsOptional()
  @IsInt()
  @Min(8)
  @Max(1000)
  HMS_LIMIT_JSON_DEPTH: number = DEFAULT_LIMITS.jsonDepth;

  /** Most steps in one plan (and the longest `after` list): every request of a plan carries its steps in its events. */
  @Transform(({ value }) => (value === undefined || value === '' ? undefined : Number(value)))
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10_000)
  HMS_LIMIT_PLAN_STEPS: number = DEFAULT_LIMITS.planSteps;

  /** Largest plan source (YAML text or JSON definition), in KiB. */
  @Transform(({ value }) => (value === undefined || value === '' ? undefined : Number(value)))
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(65_536)
  HMS_LIMIT_PLAN_KB: number = DEFAULT_LIMITS.planBytes / 1024;

  /**
   * Deliveries of an event that keeps failing before its consumer parks it and moves on
   * (docs/limits.md "Event delivery"); an operator then lists and replays it.
   */
  @Transform(({ value }) => (value === undefined || value === '' ? undefined : Number(value)))
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100)
  HMS_EVENT_MAX_DELIVERIES: number = EventDeliveryLimits.maxDeliveries;

  /** The wait before an event that failed is delivered again; it doubles per delivery (tests make it short). */
  @Transform(({ value }) => (value === undefined || value === '' ? undefined : Number(value)))
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(EventDeliveryLimits.retryMaxMs)
  HMS_EVENT_RETRY_BASE_MS: number = EventDeliveryLimits.retryBaseMs;

  /**
   * Postgres cancels a statement that runs longer (`statement_timeout`), and the call answers
   * UNAVAILABLE: a request nobody waits for any more must not hold a connection and its locks.
   */
  @Transform(({ value }) => (value === undefined || value === '' ? undefined : Number(value)))
  @IsOptional()
  @IsInt()
  @Min(100)
  @Max(3_600_000)
  DATABASE_STATEMENT_TIMEOUT_MS: number = DEFAULT_DATABASE_TIMEOUTS.statementMs;

  /**
   * How long a call waits for a Postgres connection (a free one from the pool, or a new one to
   * open) before it answers UNAVAILABLE: with Postgres unreachable, calls fail fast instead of
   * queueing behind each other.
   */
  @Transform(({ value }) => (value === undefined || value === '' ? undefined : Number(value)))
  @IsOptional()
  @IsInt()
  @Min(100)
  @Max(600_000)
  DATABASE_ACQUIRE_TIMEOUT_MS: number = DEFAULT_DATABASE_TIMEOUTS.acquireMs;

  /** The limits these settings give; the gateway adds its body limit. */
  limitSettings(): Partial<LimitSettings> {
    return {
      payloadBytes: this.HMS_LIMIT_PAYLOAD_KB * 1024,
      jsonDepth: this.HMS_LIMIT_JSON_DEPTH,
      planSteps: this.HMS_LIMIT_PLAN_STEPS,
      planBytes: this.HMS_LIMIT_PLAN_KB * 1024,
    };
  }
}

/** Reads a number from an env string, leaving it undefined when unset. */
export const EnvNumber = () => Transform(({ value }) => (value === undefined || value === '' ? undefined : Number(value)));

/** Reads `true`/`1`/`yes` as true. */
export const EnvBoolean = () =>
  Transform(({ value }) => (typeof value === 'boolean' ? value : ['true', '1', 'yes'].includes(String(value).toLowerCase())));

function flatten(errors: ValidationError[], parent = ''): string[] {
  return errors.flatMap((error) => {
    const path = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((message) => `${path}: ${message}`);
    return [...own, ...flatten(error.children ?? [], path)];
  });
}

/** A configuration that does not validate; its message lists every problem. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Builds and validates a config class from the environment, failing fast with a readable list.
 * This is the only place that reads `process.env` for settings; it also puts the limits of a
 * service's config in force for the process (`libs/contracts` limits), so message validation
 * follows them.
 */
export function loadConfig<T extends object>(
  configClass: new () => T,
  env: Record<string, string | undefined> = process.env,
): T {
  const defined = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const config = plainToInstance(configClass, defined, { exposeDefaultValues: true });
  const errors = validateSync(config, { whitelist: false, forbidUnknownValues: false });
  if (errors.length > 0) throw new ConfigError(flatten(errors));
  if (config instanceof InfraConfig) configureLimits(config.limitSettings());
  return config;
}
