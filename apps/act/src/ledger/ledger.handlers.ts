import { RequestHistoryQuery, RpcSubjects, VerifyHistoryQuery } from '@hms/contracts';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import { RpcController, type RpcCall } from '@hms/platform';
import { LedgerService } from './ledger.service';

/** NATS handlers of the ledger reads. */
@RpcController()
export class LedgerHandlers {
  constructor(private readonly ledger: LedgerService) {}

  @MessagePattern(RpcSubjects.requestHistory)
  requestHistory(@Payload() query: RequestHistoryQuery, @Ctx() { maxPayload }: RpcCall) {
    return this.ledger.history(query.id, query.cursor, query.limit, maxPayload);
  }

  @MessagePattern(RpcSubjects.requestVerify)
  requestVerify(@Payload() query: VerifyHistoryQuery) {
    return this.ledger.verify(query.id);
  }
}
