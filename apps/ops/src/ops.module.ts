import { Module, type DynamicModule } from '@nestjs/common';
import {
  BACKGROUND_JOBS,
  EVENT_SUBSCRIPTIONS,
  LOGGER,
  OFF_PATH_LINGER_MS,
  PlatformModule,
  RPC_HANDLERS,
  ServiceRuntime,
  type BackgroundJob,
  type EventSubscription,
  type RpcHandlers,
} from '@hms/platform';
import type { Logger } from 'pino';
import { OpsConfig } from './ops.config';
import { MetricsHandlers } from './metrics/metrics.handlers';
import { PoolGauges } from './metrics/pool-gauges';
import { OPS_CONSUMER, PoolMetricsService } from './metrics/pool-metrics.service';
import { OutcomeRetention, outcomeRetentionJob } from './metrics/outcome-retention';
import { OPS_ENTITIES } from './database/entities';
import { OPS_MIGRATIONS } from './database/migrations';

@Module({})
export class OpsModule {}

export function createOpsModule(config: OpsConfig): DynamicModule {
  return {
    module: OpsModule,
    imports: [
      PlatformModule.forService({
        service: 'ops',
        config,
        database: { schema: 'ops', entities: OPS_ENTITIES, migrations: OPS_MIGRATIONS },
      }),
    ],
    providers: [
      { provide: OpsConfig, useValue: config },
      PoolMetricsService,
      PoolGauges,
      MetricsHandlers,
      OutcomeRetention,
      ServiceRuntime,
      {
        provide: BACKGROUND_JOBS,
        inject: [OutcomeRetention, LOGGER],
        useFactory: (retention: OutcomeRetention, logger: Logger): BackgroundJob[] => [outcomeRetentionJob(retention, logger)],
      },
      {
        provide: RPC_HANDLERS,
        inject: [MetricsHandlers],
        useFactory: (metrics: MetricsHandlers): RpcHandlers<'ops'> => metrics.handlers(),
      },
      {
        provide: EVENT_SUBSCRIPTIONS,
        inject: [PoolMetricsService, PoolGauges],
        useFactory: (metrics: PoolMetricsService, gauges: PoolGauges): EventSubscription[] => [
          {
            durable: OPS_CONSUMER,
            filter: 'oms.>',
            lingerMs: OFF_PATH_LINGER_MS,
            claim: (events, tx) => metrics.claim(events, tx),
            handleAll: (events, tx) => metrics.applyAll(events, tx),
            // Counters move only for committed events, so a batch retried event by event counts once.
            committed: (events) => events.forEach((event) => gauges.record(event)),
          },
        ],
      },
    ],
  };
}
