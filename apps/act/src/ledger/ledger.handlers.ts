import { Injectable } from '@nestjs/common';
import type { RpcHandlers } from '@hms/platform';
import { LedgerService } from './ledger.service';

type LedgerRpcHandlers = Pick<RpcHandlers<'act'>, 'act.request.history' | 'act.request.verify'>;

/** NATS adapters of the ledger reads. */
@Injectable()
export class LedgerHandlers {
  constructor(private readonly ledger: LedgerService) {}

  handlers(): LedgerRpcHandlers {
    return {
      'act.request.history': (query, { maxPayload }) => this.ledger.history(query.id, query.cursor, query.limit, maxPayload),
      'act.request.verify': (query) => this.ledger.verify(query.id),
    };
  }
}
