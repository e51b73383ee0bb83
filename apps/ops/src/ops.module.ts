import { Module, type DynamicModule } from '@nestjs/common';
import {
  BACKGROUND_JOBS,
  EVENT_SUBSCRIPTIONS,
  LOGGER,
  OBSERVER_LINGER_MS,
  PlatformModule,
  RPC_ROUTES,
  rpcControllers,
  ServiceRuntime,
  type BackgroundJob,
  type EventSubscription,
} from '@hms/platform';
import type { Logger } from 'pino';
import { OpsConfig } from './ops.config';
import { OPS_RPC_ROUTES } from './ops.rpc';
import { PoolGauges } from './metrics/pool-gauges';
import { OPS_CONSUMER, PoolMetricsService } from './metrics/pool-metrics.service';
import { OutcomeRetention, outcomeRetentionJob } from './metrics/outcome-retention';
import { PoolTaskTombstones, poolTaskTombstonesJob } from './metrics/pool-task-tombstones';
import { OPS_ENTITIES } from './database/entities';
import { OPS_MIGRATIONS } from './database/migrations';
import { AlertEscalation } from './alerts/alert-escalation';
import { AlertGauges } from './alerts/alert-gauges';
import { AlertsService, raisesAlerts, REQUEST_EVENTS_ALERTED } from './alerts/alerts.service';
import { Autoscaler } from './scaling/autoscaler';

/**
 * OPS's second durable consumer: ACT's request events, for the alerts of late requests and their
 * resolution when the request ends (NATS 2.9 allows one filter subject per consumer).
 */
const OPS_REQUESTS_CONSUMER = 'ops-requests';

/** OPS's third: every service's `platform.event.*`, for the alerts of parked events. */
const OPS_PARKED_CONSUMER = 'ops-parked';

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
    controllers: rpcControllers(OPS_RPC_ROUTES),
    providers: [
      { provide: OpsConfig, useValue: config },
      PoolMetricsService,
      PoolGauges,
      OutcomeRetention,
      PoolTaskTombstones,
      AlertsService,
      AlertEscalation,
      AlertGauges,
      Autoscaler,
      ServiceRuntime,
      {
        provide: BACKGROUND_JOBS,
        inject: [OutcomeRetention, PoolTaskTombstones, AlertEscalation, Autoscaler, LOGGER],
        useFactory: (retention: OutcomeRetention, tombstones: PoolTaskTombstones, escalation: AlertEscalation, autoscaler: Autoscaler, logger: Logger): BackgroundJob[] => [
          outcomeRetentionJob(retention, logger),
          poolTaskTombstonesJob(tombstones, logger),
          escalation,
          autoscaler,
        ],
      },
      { provide: RPC_ROUTES, useValue: OPS_RPC_ROUTES },
      {
        provide: EVENT_SUBSCRIPTIONS,
        inject: [PoolMetricsService, PoolGauges, AlertsService, AlertEscalation],
        useFactory: (metrics: PoolMetricsService, gauges: PoolGauges, alerts: AlertsService, escalation: AlertEscalation): EventSubscription[] => [
          {
            durable: OPS_CONSUMER,
            filter: 'oms.>',
            lingerMs: OBSERVER_LINGER_MS,
            claim: (events, tx) => metrics.claim(events, tx),
            handleAll: async (events, tx, emit) => {
              await metrics.applyAll(events, tx);
              await alerts.onEvents(events, tx, emit);
            },
            // Counters move only for committed events, so a batch retried event by event counts once.
            committed: (events) => {
              events.forEach((event) => gauges.record(event));
              if (raisesAlerts(events)) escalation.poke();
            },
          },
          {
            durable: OPS_REQUESTS_CONSUMER,
            filter: 'act.request.>',
            // Above all every request's act.request.created: acknowledged unread, not claimed for nothing.
            accepts: (type) => REQUEST_EVENTS_ALERTED.has(type),
            lingerMs: OBSERVER_LINGER_MS,
            handleAll: (events, tx, emit) => alerts.onEvents(events, tx, emit),
            // Request ends (most of its events) in one statement with no transaction.
            handleAtOnce: (events) => alerts.resolveRequestEndsAtOnce(events, OPS_REQUESTS_CONSUMER),
            committed: (events) => {
              if (raisesAlerts(events)) escalation.poke();
            },
          },
          {
            durable: OPS_PARKED_CONSUMER,
            filter: 'platform.event.>',
            lingerMs: OBSERVER_LINGER_MS,
            // A parked event's alert has no pool, so there is no escalation to poke.
            handleAll: (events, tx, emit) => alerts.onEvents(events, tx, emit),
          },
        ],
      },
    ],
  };
}
