import { CreateOpsSchema1763683200000 } from './1763683200000-CreateOpsSchema';
import { PoolWorkers1795229100000 } from './1795229100000-PoolWorkers';
import { ProcessedEventsRetention1795240000002 } from './1795240000002-ProcessedEventsRetention';
import { OutcomesKeyedByEvent1795250000000 } from './1795250000000-OutcomesKeyedByEvent';
import { Alerts1795260000000 } from './1795260000000-Alerts';
import { Scaling1795270000000 } from './1795270000000-Scaling';
import { PoolCounts1795280000000 } from './1795280000000-PoolCounts';
import { PoolTaskTombstones1795290000000 } from './1795290000000-PoolTaskTombstones';
import { ParkedEvents1795300000102 } from './1795300000102-ParkedEvents';

/** In order; merged migrations are never edited. */
export const OPS_MIGRATIONS = [CreateOpsSchema1763683200000, PoolWorkers1795229100000, ProcessedEventsRetention1795240000002, OutcomesKeyedByEvent1795250000000, Alerts1795260000000, Scaling1795270000000, PoolCounts1795280000000, PoolTaskTombstones1795290000000, ParkedEvents1795300000102];
