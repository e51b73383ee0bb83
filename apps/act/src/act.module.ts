import { Module, type DynamicModule } from '@nestjs/common';
import {
  BACKGROUND_JOBS,
  EVENT_SUBSCRIPTIONS,
  PlatformModule,
  RPC_ROUTES,
  rpcControllers,
  ServiceRuntime,
  type BackgroundJob,
  type EventSubscription,
} from '@hms/platform';
import { ActConfig } from './act.config';
import { ACT_RPC_ROUTES } from './act.rpc';
import { ID_GENERATOR } from './act.tokens';
import { uuidV7Generator } from './common/ids';
import { ACT_ENTITIES } from './database/entities';
import { ACT_MIGRATIONS } from './database/migrations';
import { actEventsSubscription } from './act-events.subscription';
import { LedgerCheckpointJob } from './ledger/ledger-checkpoint.job';
import { LedgerCheckpoints } from './ledger/ledger-checkpoints';
import { LedgerService } from './ledger/ledger.service';
import { PlansLoader } from './plans/plans.loader';
import { PlansService } from './plans/plans.service';
import { RequestSlaJob } from './requests/request-sla.job';
import { FanOutJob } from './requests/fan-out.job';
import { RequestsService } from './requests/requests.service';
import { WorkflowService } from './requests/workflow.service';
import { ScheduleRunner } from './schedules/schedule-runner';

@Module({})
export class ActModule {}

/** The ACT service: plans, requests and their workflow, the ledger. */
export function createActModule(config: ActConfig): DynamicModule {
  return {
    module: ActModule,
    imports: [
      PlatformModule.forService({
        service: 'act',
        config,
        database: { schema: 'act', entities: ACT_ENTITIES, migrations: ACT_MIGRATIONS, poolSize: config.ACT_DB_POOL_SIZE, appendOnlyTables: ['ledger_entries'] },
      }),
    ],
    controllers: rpcControllers(ACT_RPC_ROUTES),
    providers: [
      { provide: ActConfig, useValue: config },
      { provide: ID_GENERATOR, useFactory: () => uuidV7Generator() },
      PlansService,
      PlansLoader,
      WorkflowService,
      RequestsService,
      LedgerCheckpoints,
      LedgerCheckpointJob,
      LedgerService,
      ScheduleRunner,
      RequestSlaJob,
      FanOutJob,
      ServiceRuntime,
      { provide: RPC_ROUTES, useValue: ACT_RPC_ROUTES },
      {
        provide: EVENT_SUBSCRIPTIONS,
        inject: [LedgerService, WorkflowService, FanOutJob],
        useFactory: (ledger: LedgerService, workflow: WorkflowService, fanOuts: FanOutJob): EventSubscription[] => [actEventsSubscription(ledger, workflow, fanOuts)],
      },
      {
        provide: BACKGROUND_JOBS,
        inject: [ScheduleRunner, RequestSlaJob, LedgerCheckpointJob, FanOutJob],
        useFactory: (schedules: ScheduleRunner, sla: RequestSlaJob, checkpoints: LedgerCheckpointJob, fanOuts: FanOutJob): BackgroundJob[] => [schedules, sla, checkpoints, fanOuts],
      },
    ],
  };
}
