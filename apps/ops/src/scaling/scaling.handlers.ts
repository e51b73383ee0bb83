import { ListScalingDecisionsQuery, RpcSubjects } from '@hms/contracts';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import { RpcController, type RpcCall } from '@hms/platform';
import { Autoscaler } from './autoscaler';

@RpcController()
export class ScalingHandlers {
  constructor(private readonly autoscaler: Autoscaler) {}

  @MessagePattern(RpcSubjects.scalingDecisions)
  scalingDecisions(@Payload() query: ListScalingDecisionsQuery, @Ctx() { maxPayload }: RpcCall) {
    return this.autoscaler.list(query, maxPayload);
  }
}
