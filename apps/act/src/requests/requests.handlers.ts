import { CancelRequestCommand, CreateRequestCommand, CreateRequestsCommand, GetRequestQuery, ListRequestsQuery, RpcSubjects } from '@hms/contracts';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import { RpcController, type RpcCall } from '@hms/platform';
import { RequestsService } from './requests.service';

/** NATS handlers of the request use cases. */
@RpcController()
export class RequestsHandlers {
  constructor(private readonly requests: RequestsService) {}

  @MessagePattern(RpcSubjects.requestCreate)
  requestCreate(@Payload() command: CreateRequestCommand, @Ctx() { actor, requestBytes, maxPayload }: RpcCall) {
    return this.requests.create(command, actor.id, { requestBytes, maxPayload });
  }

  @MessagePattern(RpcSubjects.requestCreateMany)
  requestCreateMany(@Payload() command: CreateRequestsCommand, @Ctx() { actor, requestBytes, maxPayload }: RpcCall) {
    return this.requests.createMany(command, actor.id, { requestBytes, maxPayload });
  }

  @MessagePattern(RpcSubjects.requestGet)
  requestGet(@Payload() query: GetRequestQuery) {
    return this.requests.get(query.id);
  }

  @MessagePattern(RpcSubjects.requestList)
  requestList(@Payload() query: ListRequestsQuery, @Ctx() { maxPayload }: RpcCall) {
    return this.requests.list(query, maxPayload);
  }

  @MessagePattern(RpcSubjects.requestCancel)
  requestCancel(@Payload() command: CancelRequestCommand, @Ctx() { actor }: RpcCall) {
    return this.requests.cancel(command.id, command.reason, actor.id);
  }
}
