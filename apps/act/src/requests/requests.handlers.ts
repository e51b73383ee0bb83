import { Injectable } from '@nestjs/common';
import type { RpcHandlers } from '@hms/platform';
import { RequestsService } from './requests.service';

type RequestHandlers = Pick<RpcHandlers<'act'>, 'act.request.create' | 'act.request.create-many' | 'act.request.get' | 'act.request.list' | 'act.request.cancel'>;

/** NATS adapters of the request use cases. */
@Injectable()
export class RequestsHandlers {
  constructor(private readonly requests: RequestsService) {}

  handlers(): RequestHandlers {
    return {
      'act.request.create': (command, { actor, requestBytes, maxPayload }) => this.requests.create(command, actor.id, { requestBytes, maxPayload }),
      'act.request.create-many': (command, { actor, requestBytes, maxPayload }) => this.requests.createMany(command, actor.id, { requestBytes, maxPayload }),
      'act.request.get': (query) => this.requests.get(query.id),
      'act.request.list': (query, { maxPayload }) => this.requests.list(query, maxPayload),
      'act.request.cancel': (command, { actor }) => this.requests.cancel(command.id, command.reason, actor.id),
    };
  }
}
