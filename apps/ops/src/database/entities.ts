import { AlertEntity } from '../alerts/alert.entity';
import { PoolCountEntity } from '../metrics/pool-count.entity';
import { PoolTaskEntity } from '../metrics/pool-task.entity';
import { PoolWorkerEntity } from '../metrics/pool-worker.entity';
import { TaskOutcomeEntity } from '../metrics/task-outcome.entity';
import { PoolScalingEntity, ScalingDecisionEntity } from '../scaling/scaling.entities';

/** Every entity of the `ops` schema (the drift test compares them with the migrations). */
export const OPS_ENTITIES = [PoolTaskEntity, PoolCountEntity, TaskOutcomeEntity, PoolWorkerEntity, AlertEntity, PoolScalingEntity, ScalingDecisionEntity];
