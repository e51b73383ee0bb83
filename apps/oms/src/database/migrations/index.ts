import { CreateOmsSchema1763683300000 } from './1763683300000-CreateOmsSchema';
import { DeadlineOrderAndSlaWatch1795227705988 } from './1795227705988-DeadlineOrderAndSlaWatch';
import { WorkerPools1795229000000 } from './1795229000000-WorkerPools';
import { ProcessedEventsRetention1795240000001 } from './1795240000001-ProcessedEventsRetention';
import { PoolWorkerLiveness1795240000010 } from './1795240000010-PoolWorkerLiveness';
import { TaskPayloadBytes1795240000031 } from './1795240000031-TaskPayloadBytes';
import { PoolMaxLeaseSeconds1795250000000 } from './1795250000000-PoolMaxLeaseSeconds';
import { ParkedEvents1795300000101 } from './1795300000101-ParkedEvents';
import { TaskInput1795400000101 } from './1795400000101-TaskInput';

/** In order; merged migrations are never edited. */
export const OMS_MIGRATIONS = [
  CreateOmsSchema1763683300000,
  DeadlineOrderAndSlaWatch1795227705988,
  WorkerPools1795229000000,
  ProcessedEventsRetention1795240000001,
  PoolWorkerLiveness1795240000010,
  TaskPayloadBytes1795240000031,
  PoolMaxLeaseSeconds1795250000000,
  ParkedEvents1795300000101,
  TaskInput1795400000101,
];
