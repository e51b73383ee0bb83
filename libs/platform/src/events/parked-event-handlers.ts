import { Inject, type Type } from '@nestjs/common';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import { ListParkedEventsQuery, ReplayParkedEventCommand, type ParkedEventSubject, type ServiceName } from '@hms/contracts';
import type { RpcCall } from '../nats/rpc';
import { answeredBy, RpcController, type RpcRoutes } from '../nats/rpc-transport';
import { ParkedEvents } from './parked-events';

/**
 * The `<service>.parked-event.list|replay` handlers: one implementation, a class per service
 * (a subject in `@MessagePattern` is fixed per class), with their routes.
 */
export function parkedEventHandlers<N extends ServiceName>(
  service: N,
): { controller: Type<unknown>; routes: Pick<RpcRoutes<N>, Extract<ParkedEventSubject<N>, keyof RpcRoutes<N>>> } {
  @RpcController()
  class ParkedEventHandlers {
    constructor(@Inject(ParkedEvents) private readonly parked: ParkedEvents) {}

    @MessagePattern(`${service}.parked-event.list`)
    list(@Payload() query: ListParkedEventsQuery) {
      return this.parked.list(query);
    }

    @MessagePattern(`${service}.parked-event.replay`)
    replay(@Payload() command: ReplayParkedEventCommand, @Ctx() call: RpcCall) {
      return this.parked.replay(command.id, call.actor.id);
    }
  }
  Object.defineProperty(ParkedEventHandlers, 'name', { value: `${service.toUpperCase()}ParkedEventHandlers` });
  const routes = {
    [`${service}.parked-event.list`]: answeredBy(ParkedEventHandlers, 'list'),
    [`${service}.parked-event.replay`]: answeredBy(ParkedEventHandlers, 'replay'),
  };
  return { controller: ParkedEventHandlers, routes: routes as never };
}
