import { Injectable } from '@nestjs/common';
import { RpcSubjects } from '@hms/contracts';
import type { RpcHandlers } from '@hms/platform';
import { PoolsService } from './pools.service';

type PoolSubject = (typeof RpcSubjects)['poolUpsert' | 'poolGet' | 'poolList' | 'poolSetSla'];

/** NATS adapters of the pool subjects: validated message in (by the RPC layer), contract type out. */
@Injectable()
export class PoolsHandlers {
  constructor(private readonly pools: PoolsService) {}

  handlers(): Pick<RpcHandlers<'oms'>, PoolSubject> {
    return {
      [RpcSubjects.poolUpsert]: (command, { actor }) => this.pools.upsert(command, actor),
      [RpcSubjects.poolGet]: (query) => this.pools.get(query.pool),
      [RpcSubjects.poolList]: async () => ({ items: await this.pools.list() }),
      [RpcSubjects.poolSetSla]: (command, { actor }) => this.pools.setSla(command, actor),
    };
  }
}
