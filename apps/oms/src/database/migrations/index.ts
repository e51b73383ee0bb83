import { CreateOmsSchema1763683300000 } from './1763683300000-CreateOmsSchema';
import { DeadlineOrderAndSlaWatch1795227705988 } from './1795227705988-DeadlineOrderAndSlaWatch';
import { WorkerPools1795229000000 } from './1795229000000-WorkerPools';
import { ProcessedEventsRetention1795240000001 } from './1795240000001-ProcessedEventsRetention';
import { PoolWorkerLiveness1795240000010 } from './1795240000010-PoolWorkerLiveness';
import { PoolMaxLeaseSeconds1795250000000 } from './1795250000000-PoolMaxLeaseSeconds';

/** In order; merged migrations are never edited. */
export const OMS_MIGRATIONS = [
  CreateOmsSchema1763683300000,
  DeadlineOrderAndSlaWatch1795227705988,
  WorkerPools1795229000000,
  ProcessedEventsRetention1795240000001,
  PoolWorkerLiveness1795240000010,
  PoolMaxLeaseSeconds1795250000000,
];
