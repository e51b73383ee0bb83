import { RpcSubjects, serviceOf } from '@hms/contracts';
import { ParkedEvents, systemClock } from '@hms/platform';
import type { LeasesService } from './leases/leases.service';
import { PoolsHandlers } from './pools/pools.handlers';
import type { PoolsService } from './pools/pools.service';
import { TasksHandlers } from './tasks/tasks.handlers';
import type { TasksService } from './tasks/tasks.service';
import type { WorkerPresence } from './workers/worker-presence';

describe('OMS RPC handlers', () => {
  it('answer every oms.* subject of the contract exactly once', () => {
    const tasks = Object.keys(new TasksHandlers({} as TasksService, {} as LeasesService, {} as WorkerPresence).handlers());
    const pools = Object.keys(new PoolsHandlers({} as PoolsService).handlers());
    const parked = Object.keys(new ParkedEvents({} as never, {} as never, 'oms', 'oms', systemClock).handlers('oms'));
    const handled = [...tasks, ...pools, ...parked];
    const expected = Object.values(RpcSubjects).filter((subject) => serviceOf(subject) === 'oms');
    expect(new Set(handled).size).toBe(handled.length);
    expect([...handled].sort()).toEqual([...expected].sort());
  });
});
