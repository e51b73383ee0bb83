import { PoolTaskEntity } from '../../apps/ops/src/metrics/pool-task.entity';
import { TaskOutcomeEntity } from '../../apps/ops/src/metrics/task-outcome.entity';
import { OPS_MIGRATIONS } from '../../apps/ops/src/database/migrations';

/** Entities and migrations of each service with a schema, for tooling. */
export const SERVICE_SCHEMAS = {
  ops: { entities: [PoolTaskEntity, TaskOutcomeEntity], migrations: OPS_MIGRATIONS },
};
