import { Inject, Injectable, Optional, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import type { ServiceName } from '@hms/contracts';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import type { Clock } from '../clock';
import { EventConsumer, type EventSubscription } from '../events/event-consumer';
import { ProcessedEventsRetention } from '../events/processed-events-retention';
import { EventOutbox } from '../events/event-outbox';
import { ParkedEvents } from '../events/parked-events';
import { NatsBus } from '../nats/nats-bus';
import { RpcErrors, RpcServer } from '../nats/rpc';
import { NatsRpcTransport, type RpcRoute } from '../nats/rpc-transport';
import { Readiness, type PlatformOptions } from './platform.module';
import { BACKGROUND_JOBS, CLOCK, EVENT_SUBSCRIPTIONS, LOGGER, PLATFORM_OPTIONS, RPC_ROUTES } from './tokens';

/** Work a service does on its own (a sweep, a scheduler): started after the RPC server. */
export interface BackgroundJob {
  start(): void;
  stop(): Promise<void>;
}

/**
 * Starts a service's moving parts once Nest has wired it (outbox relay, event consumers,
 * background jobs; its RPC handlers start with its Nest microservice, see `rpcTransport`) and
 * stops them on SIGTERM, the RPC server first, before connections close.
 */
@Injectable()
export class ServiceRuntime implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly rpcServer: RpcServer;
  private consumers: EventConsumer[] = [];
  private retention?: ProcessedEventsRetention;

  constructor(
    private readonly bus: NatsBus,
    private readonly outbox: EventOutbox,
    private readonly readiness: Readiness,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(PLATFORM_OPTIONS) private readonly options: PlatformOptions,
    @Inject(RPC_ROUTES) private readonly routes: Record<string, RpcRoute>,
    errors: RpcErrors,
    @Inject(EVENT_SUBSCRIPTIONS) private readonly subscriptions: EventSubscription[],
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly dataSource: DataSource,
    private readonly parked: ParkedEvents,
    @Optional() @Inject(BACKGROUND_JOBS) private readonly jobs: BackgroundJob[] = [],
  ) {
    this.rpcServer = new RpcServer(bus, options.service as ServiceName, logger, errors);
  }

  /** The service's Nest microservice transport (`app.connectMicroservice({strategy})`), serving its routes. */
  rpcTransport(): NatsRpcTransport {
    return new NatsRpcTransport(this.rpcServer, this.routes);
  }

  async onApplicationBootstrap(): Promise<void> {
    const schema = this.options.database!.schema;
    const { HMS_EVENT_MAX_DELIVERIES: maxDeliveries, HMS_EVENT_RETRY_BASE_MS: retryBaseMs } = this.options.config;
    this.outbox.start();
    for (const subscription of this.subscriptions) {
      const consumer = new EventConsumer(this.bus, this.outbox, schema, subscription, this.logger, { maxDeliveries, retryBaseMs, parked: this.parked });
      this.parked.register(consumer);
      await consumer.start();
      this.consumers.push(consumer);
    }
    for (const job of this.jobs) job.start();
    // Only subscriptions without a claim of their own keep processed_events rows.
    if (this.subscriptions.some((subscription) => !subscription.claim)) {
      this.retention = new ProcessedEventsRetention(this.dataSource, schema, () => this.clock.now(), this.logger);
      this.retention.start();
    }
    this.readiness.ready = true;
    this.logger.info('service started');
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.readiness.ready = false;
    await this.rpcServer.stop();
    for (const job of this.jobs) await job.stop();
    await this.retention?.stop();
    for (const consumer of this.consumers) await consumer.stop();
    await this.outbox.stop();
    this.logger.info('service stopped');
  }
}
