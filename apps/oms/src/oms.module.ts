import { Injectable, Module, type BeforeApplicationShutdown, type DynamicModule } from '@nestjs/common';
import {
  BACKGROUND_JOBS,
  EVENT_SUBSCRIPTIONS,
  LOGGER,
  PlatformModule,
  RPC_ROUTES,
  rpcControllers,
  ServiceRuntime,
  type BackgroundJob,
  type EventSubscription,
} from '@hms/platform';
import type { Logger } from 'pino';
import { AfterCommit } from './database/after-commit';
import { OMS_ENTITIES } from './database/entities';
import { OMS_MIGRATIONS } from './database/migrations';
import { leaseExpiryJob } from './leases/lease-expiry.job';
import { LeaseReclaimer } from './leases/lease-reclaimer';
import { LeasesService } from './leases/leases.service';
import { TaskSignals } from './leases/task-signals';
import { OmsConfig } from './oms.config';
import { OMS_RPC_ROUTES } from './oms.rpc';
import { PoolsService } from './pools/pools.service';
import { TaskSlaWatch, taskSlaWatchJob } from './sla/task-sla-watch';
import { TaskEvents } from './tasks/task-events';
import { TasksService } from './tasks/tasks.service';
import { workerLivenessJob } from './workers/worker-liveness.job';
import { WorkerPresence } from './workers/worker-presence';

@Module({})
export class OmsModule {}

/**
 * Ends waiting long-polls as soon as shutdown begins. Nest runs a dependent's shutdown hook
 * before its dependencies', so depending on ServiceRuntime puts this ahead of its RPC drain,
 * which would otherwise wait (bounded) for long-polls that have nothing left to wait for.
 */
@Injectable()
export class LongPollShutdown implements BeforeApplicationShutdown {
  constructor(
    readonly runtime: ServiceRuntime,
    private readonly signals: TaskSignals,
  ) {}

  beforeApplicationShutdown(): void {
    this.signals.close();
  }
}

export function createOmsModule(config: OmsConfig): DynamicModule {
  return {
    module: OmsModule,
    imports: [
      PlatformModule.forService({
        service: 'oms',
        config,
        database: { schema: 'oms', entities: OMS_ENTITIES, migrations: OMS_MIGRATIONS, poolSize: config.OMS_DB_POOL_SIZE, genericPlanPoolSize: config.OMS_DB_GENERIC_PLAN_POOL_SIZE },
      }),
    ],
    controllers: rpcControllers(OMS_RPC_ROUTES),
    providers: [
      { provide: OmsConfig, useValue: config },
      AfterCommit,
      TaskSignals,
      PoolsService,
      TasksService,
      LeasesService,
      LeaseReclaimer,
      TaskSlaWatch,
      WorkerPresence,
      TaskEvents,
      ServiceRuntime,
      LongPollShutdown,
      { provide: RPC_ROUTES, useValue: OMS_RPC_ROUTES },
      {
        provide: EVENT_SUBSCRIPTIONS,
        inject: [TaskEvents],
        useFactory: (events: TaskEvents): EventSubscription[] => [events.subscription(), events.alertSubscription()],
      },
      {
        provide: BACKGROUND_JOBS,
        inject: [LeaseReclaimer, TaskSlaWatch, WorkerPresence, LOGGER],
        useFactory: (reclaimer: LeaseReclaimer, slaWatch: TaskSlaWatch, presence: WorkerPresence, logger: Logger): BackgroundJob[] => [
          leaseExpiryJob(reclaimer, config, logger),
          workerLivenessJob(reclaimer, presence, config, logger),
          taskSlaWatchJob(slaWatch, config, logger),
        ],
      },
    ],
  };
}
