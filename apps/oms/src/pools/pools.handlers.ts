import { Injectable } from '@nestjs/common';
import { actsOnlyAsItself, RpcSubjects, type Actor, type PoolView } from '@hms/contracts';
import type { RpcHandlers } from '@hms/platform';
import { PoolsService } from './pools.service';

type PoolSubject = (typeof RpcSubjects)['poolUpsert' | 'poolGet' | 'poolList' | 'poolSetSla'];

/**
 * A pool as a caller may see it: a worker (who may read its pools to learn their lease and
 * liveness settings) does not see where escalations are posted; managers and services do.
 */
function seenBy(view: PoolView, actor: Actor): PoolView {
  if (!actsOnlyAsItself(actor) || !view.escalation?.webhook) return view;
  const { webhook: _hidden, ...escalation } = view.escalation;
  return { ...view, escalation };
}

/** NATS adapters of the pool subjects: validated message in (by the RPC layer), contract type out. */
@Injectable()
export class PoolsHandlers {
  constructor(private readonly pools: PoolsService) {}

  handlers(): Pick<RpcHandlers<'oms'>, PoolSubject> {
    return {
      [RpcSubjects.poolUpsert]: (command, { actor }) => this.pools.upsert(command, actor),
      [RpcSubjects.poolGet]: async (query, { actor }) => seenBy(await this.pools.get(query.pool), actor),
      [RpcSubjects.poolList]: async (_query, { actor }) => ({ items: (await this.pools.list()).map((view) => seenBy(view, actor)) }),
      [RpcSubjects.poolSetSla]: (command, { actor }) => this.pools.setSla(command, actor),
    };
  }
}
