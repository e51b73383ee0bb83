import { actsOnlyAsItself, GetPoolQuery, ListPoolsQuery, RpcSubjects, SetPoolSlaCommand, UpsertPoolCommand, type Actor, type PoolView } from '@hms/contracts';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import { RpcController, type RpcCall } from '@hms/platform';
import { PoolsService } from './pools.service';

/**
 * A pool as a caller may see it: a worker (who may read its pools to learn their lease and
 * liveness settings) does not see where escalations are posted; managers and services do.
 */
function seenBy(view: PoolView, actor: Actor): PoolView {
  if (!actsOnlyAsItself(actor) || !view.escalation?.webhook) return view;
  const { webhook: _hidden, ...escalation } = view.escalation;
  return { ...view, escalation };
}

/** NATS handlers of the pool subjects: validated message in (by the RPC pipe), contract type out. */
@RpcController()
export class PoolsHandlers {
  constructor(private readonly pools: PoolsService) {}

  @MessagePattern(RpcSubjects.poolUpsert)
  poolUpsert(@Payload() command: UpsertPoolCommand, @Ctx() { actor }: RpcCall) {
    return this.pools.upsert(command, actor);
  }

  @MessagePattern(RpcSubjects.poolGet)
  async poolGet(@Payload() query: GetPoolQuery, @Ctx() { actor }: RpcCall) {
    return seenBy(await this.pools.get(query.pool), actor);
  }

  @MessagePattern(RpcSubjects.poolList)
  async poolList(@Payload() _query: ListPoolsQuery, @Ctx() { actor }: RpcCall) {
    return { items: (await this.pools.list()).map((view) => seenBy(view, actor)) };
  }

  @MessagePattern(RpcSubjects.poolSetSla)
  poolSetSla(@Payload() command: SetPoolSlaCommand, @Ctx() { actor }: RpcCall) {
    return this.pools.setSla(command, actor);
  }
}
