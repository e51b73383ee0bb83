import { GetPlanQuery, ListPlansQuery, RegisterPlanCommand, RpcSubjects } from '@hms/contracts';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import { RpcController, type RpcCall } from '@hms/platform';
import { planSourceOf } from './plan-source';
import { PlansService } from './plans.service';

/** NATS handlers of the plan use cases. */
@RpcController()
export class PlansHandlers {
  constructor(private readonly plans: PlansService) {}

  @MessagePattern(RpcSubjects.planRegister)
  planRegister(@Payload() command: RegisterPlanCommand, @Ctx() { actor }: RpcCall) {
    return this.plans.register(planSourceOf(command), actor.id);
  }

  @MessagePattern(RpcSubjects.planGet)
  planGet(@Payload() query: GetPlanQuery) {
    return this.plans.get(query.id, query.version);
  }

  @MessagePattern(RpcSubjects.planList)
  async planList(@Payload() _query: ListPlansQuery) {
    return { items: await this.plans.list() };
  }
}
