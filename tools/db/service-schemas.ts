import { ACT_ENTITIES } from '../../apps/act/src/database/entities';
import { ACT_MIGRATIONS } from '../../apps/act/src/database/migrations';
import { OMS_ENTITIES } from '../../apps/oms/src/database/entities';
import { OMS_MIGRATIONS } from '../../apps/oms/src/database/migrations';
import { OPS_ENTITIES } from '../../apps/ops/src/database/entities';
import { OPS_MIGRATIONS } from '../../apps/ops/src/database/migrations';

/** Entities and migrations of each service with a schema, for tooling. */
export const SERVICE_SCHEMAS = {
  act: { entities: ACT_ENTITIES, migrations: ACT_MIGRATIONS },
  oms: { entities: OMS_ENTITIES, migrations: OMS_MIGRATIONS },
  ops: { entities: OPS_ENTITIES, migrations: OPS_MIGRATIONS },
};
