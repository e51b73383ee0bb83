import { PoolEntity } from '../pools/pool.entity';
import { TaskEntity } from '../tasks/task.entity';
import { WorkerEntity, WorkerPoolEntity } from '../workers/worker.entity';

/** Every entity of the `oms` schema (the drift test compares them with the migrations). */
export const OMS_ENTITIES = [PoolEntity, TaskEntity, WorkerEntity, WorkerPoolEntity];
