import { Controller, Get, Global, Header, HttpCode, Inject, Injectable, Module, Optional, Res, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { ServiceName } from '@hms/contracts';
import { DataSource, type MixedList } from 'typeorm';
import type { Logger } from 'pino';
import { systemClock } from '../clock';
import { ConfigError, type InfraConfig } from '../config/load-config';
import { createDataSource, databaseUser, grantServiceRole, runMigrations } from '../database/data-source';
import { GenericPlanPool } from '../database/generic-plan-pool';
import { EventOutbox } from '../events/event-outbox';
import { ParkedEvents } from '../events/parked-events';
import { createLogger } from '../logging/logger';
import { initDefaultMetrics, metricsRegistry } from '../metrics/metrics';
import { NatsBus, type NatsIdentity } from '../nats/nats-bus';
import { ActorTrust } from '../nats/actor-trust';
import { RpcClient, RpcErrors } from '../nats/rpc';
import { Backoff, type BackoffPolicy } from './backoff';
import { TokenVerifier } from '../auth/tokens';
import { CLOCK, LOGGER, PLATFORM_OPTIONS } from './tokens';

export interface PlatformOptions {
  service: ServiceName | 'api-gateway';
  config: InfraConfig;
  /** Absent for the gateway, which owns nothing durable. */
  database?: {
    schema: string;
    // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
    entities: MixedList<Function>;
    // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
    migrations: MixedList<Function>;
    poolSize?: number;
    /** Most connections of the service's {@link GenericPlanPool} (opened as needed); 4 if absent. */
    genericPlanPoolSize?: number;
    /** Tables the service's database role may only read and append to (see {@link grantServiceRole}). */
    appendOnlyTables?: string[];
  };
  /** False when the service serves its own `/metrics` (the gateway adds OPS's per-pool series). */
  serveMetrics?: boolean;
}

/** Whether the service has finished starting (readiness) and is not shutting down. */
@Injectable()
export class Readiness {
  ready = false;
}

/** How often a service starting before its Postgres or NATS tries again (for a minute, then it exits). */
const START_RETRY: BackoffPolicy = { initialMs: 250, maxMs: 5000 };

async function withRetries<T>(what: string, logger: Logger, attempt: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const backoff = new Backoff(START_RETRY);
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      const delay = backoff.next();
      if (Date.now() + delay > deadline) throw error;
      logger.warn({ err: error, retryInMs: delay }, `${what} not reachable yet`);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

@Controller('health')
export class HealthController {
  constructor(
    private readonly readiness: Readiness,
    private readonly bus: NatsBus,
    @Optional() private readonly dataSource?: DataSource,
  ) {}

  @Get('live')
  live() {
    return { status: 'ok' };
  }

  /**
   * Ready when started, NATS is connected and Postgres answers; else 503 with the same
   * `{status, checks}` body, so a probe's reader sees which check failed. Set as the status rather
   * than thrown: a thrown error would become the gateway's ApiError body there and this body
   * elsewhere, where every service is to answer alike (docs/operations.md "Probes").
   */
  @Get('ready')
  async ready(@Res({ passthrough: true }) response: { status(code: number): unknown }) {
    const checks: Record<string, 'up' | 'down'> = { started: this.readiness.ready ? 'up' : 'down', nats: this.bus.isConnected ? 'up' : 'down' };
    if (this.dataSource) {
      checks.postgres = await this.dataSource.query('SELECT 1').then(
        () => 'up' as const,
        () => 'down' as const,
      );
    }
    const status = Object.values(checks).every((c) => c === 'up') ? 'ok' : 'unavailable';
    if (status !== 'ok') response.status(503);
    return { status, checks };
  }
}

@Controller('metrics')
export class MetricsController {
  @Get()
  @HttpCode(200)
  @Header('Content-Type', metricsRegistry.contentType)
  metrics(): Promise<string> {
    return metricsRegistry.metrics();
  }
}

/**
 * The NATS user and actor trust of a process from its config: it signs its actor headers with
 * HMS_ACTOR_KEY and believes a bot's own access token, verified like the gateway verifies one.
 */
export function natsIdentityOf(config: InfraConfig): NatsIdentity {
  const keys = [config.HMS_ACTOR_KEY, config.HMS_ACTOR_KEY_ACCEPTED].filter((key): key is string => key !== undefined);
  const verifier = config.HMS_JWT_SECRET || config.HMS_JWT_JWKS_URL ? tokenVerifierOf(config) : undefined;
  return { user: config.NATS_USER, password: config.NATS_PASSWORD, trust: new ActorTrust(keys, verifier) };
}

/** The access-token checks of a deployment: the gateway's for bearer tokens, the services' for a bot's token over NATS. */
export function tokenVerifierOf(config: InfraConfig): TokenVerifier {
  return new TokenVerifier({
    secret: config.HMS_JWT_SECRET,
    jwksUrl: config.HMS_JWT_JWKS_URL,
    maxLifetimeSeconds: config.HMS_JWT_MAX_LIFETIME_SECONDS,
    issuer: config.HMS_JWT_ISSUER,
    audience: config.HMS_JWT_AUDIENCE,
  });
}

/** Closes Postgres and NATS after everything else has stopped. */
@Injectable()
class PlatformLifecycle implements OnApplicationShutdown {
  constructor(
    private readonly bus: NatsBus,
    @Optional() private readonly dataSource?: DataSource,
    @Optional() private readonly genericPlans?: GenericPlanPool,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.bus.close();
    await this.genericPlans?.end();
    if (this.dataSource?.isInitialized) await this.dataSource.destroy();
  }
}

/**
 * The infrastructure of a service as Nest providers: config, logger, clock, Postgres (migrated),
 * NATS (with the event stream), the RPC client, the outbox, and the health and metrics endpoints.
 */
@Global()
@Module({})
export class PlatformModule {
  static forService(options: PlatformOptions): DynamicModule {
    const logger = createLogger(options.service, options.config.LOG_LEVEL);
    initDefaultMetrics(options.service);
    const database = options.database;
    const databaseUrl = options.config.DATABASE_URL;
    const timeouts = { statementMs: options.config.DATABASE_STATEMENT_TIMEOUT_MS, acquireMs: options.config.DATABASE_ACQUIRE_TIMEOUT_MS };
    if (database && !databaseUrl) throw new ConfigError(['DATABASE_URL: required by this service']);
    const providers = [
      { provide: PLATFORM_OPTIONS, useValue: options },
      { provide: LOGGER, useValue: logger },
      { provide: CLOCK, useValue: systemClock },
      Readiness,
      PlatformLifecycle,
      {
        provide: NatsBus,
        useFactory: async () => {
          const bus = await NatsBus.connect(options.config.NATS_URL, options.config.HMS_SUBJECT_PREFIX, options.service, natsIdentityOf(options.config));
          if (!options.config.HMS_ACTOR_KEY) logger.warn('HMS_ACTOR_KEY is not set: the actor header of any NATS message is believed (development only)');
          bus.onConnectionChange((connected) =>
            connected ? logger.info('NATS connection is back') : logger.warn('NATS connection lost; reconnecting (not ready meanwhile)'),
          );
          // The gateway neither publishes nor consumes events, and its NATS user may not touch the stream.
          if (database) await withRetries('JetStream', logger, () => bus.ensureEventStream(options.config.HMS_JETSTREAM_REPLICAS));
          return bus;
        },
      },
      { provide: RpcClient, useFactory: (bus: NatsBus) => new RpcClient(bus), inject: [NatsBus] },
      { provide: RpcErrors, useValue: new RpcErrors(logger) },
      ...(database
        ? [
            {
              provide: DataSource,
              useFactory: async () => {
                const migrationUrl = options.config.DATABASE_MIGRATION_URL;
                const dataSource = createDataSource({ url: databaseUrl!, ...database, timeouts, logger });
                if (migrationUrl && migrationUrl !== databaseUrl) {
                  // The schema's owner migrates and grants, on connections of its own (runMigrations
                  // holds its lock on one while migrating on another); the
                  // service then works as a role that cannot change the schema.
                  const owner = createDataSource({ url: migrationUrl, ...database, timeouts, logger, poolSize: 2, applicationName: `hms-${database.schema}-migrations` });
                  await withRetries('Postgres', logger, () => owner.initialize());
                  try {
                    await runMigrations(owner, database.schema);
                    await grantServiceRole(owner, database.schema, databaseUser(databaseUrl!), database.appendOnlyTables);
                  } finally {
                    await owner.destroy();
                  }
                  await withRetries('Postgres', logger, () => dataSource.initialize());
                } else {
                  await withRetries('Postgres', logger, () => dataSource.initialize());
                  await runMigrations(dataSource, database.schema);
                }
                return dataSource;
              },
            },
            {
              provide: GenericPlanPool,
              // After the data source, so that its connections find the schema migrated.
              inject: [DataSource],
              useFactory: () =>
                new GenericPlanPool({
                  url: databaseUrl!,
                  size: database.genericPlanPoolSize ?? 4,
                  applicationName: `hms-${database.schema}-generic`,
                  timeouts,
                  logger,
                }),
            },
            {
              provide: EventOutbox,
              useFactory: (dataSource: DataSource, bus: NatsBus) =>
                new EventOutbox(dataSource, bus, database.schema, options.service as 'act' | 'oms' | 'ops', systemClock, logger),
              inject: [DataSource, NatsBus],
            },
            {
              provide: ParkedEvents,
              useFactory: (dataSource: DataSource, outbox: EventOutbox) => new ParkedEvents(dataSource, outbox, database.schema, options.service as 'act' | 'oms' | 'ops', systemClock),
              inject: [DataSource, EventOutbox],
            },
          ]
        : []),
    ];
    return {
      module: PlatformModule,
      global: true,
      controllers: options.serveMetrics === false ? [HealthController] : [HealthController, MetricsController],
      providers,
      exports: providers.map((p) => ('provide' in p ? p.provide : p)),
    };
  }
}

/** Re-exported so apps can inject the logger with a type. */
export const InjectLogger = () => Inject(LOGGER);
