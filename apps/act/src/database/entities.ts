import { LedgerEntryEntity } from '../ledger/ledger-entry.entity';
import { LedgerHeadEntity } from '../ledger/ledger-head.entity';
import { PlanEntity } from '../plans/plan.entity';
import { FanOutEntity, FanOutItemEntity } from '../requests/fan-out.entity';
import { RequestStepEntity } from '../requests/request-step.entity';
import { RequestEntity } from '../requests/request.entity';
import { ScheduleFireEntity } from '../schedules/schedule-fire.entity';

/** Every entity of schema `act` (also used by tools that diff the schema). */
export const ACT_ENTITIES = [PlanEntity, RequestEntity, RequestStepEntity, LedgerEntryEntity, LedgerHeadEntity, ScheduleFireEntity, FanOutEntity, FanOutItemEntity];
