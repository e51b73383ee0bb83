import { DomainError, GetPoolQuery, ListPoolsQuery } from '@hms/contracts';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { validateMessage, type RpcServer } from './rpc';
import { answeredBy, NatsRpcTransport, routeProblems, RpcController, RpcMessagePipe } from './rpc-transport';

@RpcController()
class PoolReads {
  @MessagePattern('oms.pool.get')
  get(@Payload() query: GetPoolQuery) {
    return Promise.resolve(query);
  }

  // Declared with another subject's class: its messages would be validated as the wrong thing.
  @MessagePattern('oms.pool.list')
  list(@Payload() query: GetPoolQuery) {
    return Promise.resolve(query);
  }

  undecorated(@Payload() query: ListPoolsQuery) {
    return Promise.resolve(query);
  }
}

describe(routeProblems.name, () => {
  const registered = (...subjects: string[]) => new Map(subjects.map((subject) => [subject, true]));

  it('accepts a route to a method that carries its pattern and takes its contract class', () => {
    expect(routeProblems({ 'oms.pool.get': answeredBy(PoolReads, 'get') }, registered('oms.pool.get'))).toEqual([]);
  });

  it('names a handler missing from Nest, a method without its pattern or with the wrong message class, and a handler without a route', () => {
    const problems = routeProblems(
      { 'oms.pool.get': answeredBy(PoolReads, 'get'), 'oms.pool.list': answeredBy(PoolReads, 'list'), 'oms.pool.set-sla': answeredBy(PoolReads, 'undecorated') },
      registered('oms.pool.list', 'oms.task.get'),
    );
    expect(problems).toEqual([
      "oms.pool.get: no handler registered (is PoolReads among the module's controllers?)",
      'oms.pool.list: PoolReads.list must take its message as ListPoolsQuery (its first parameter) to be validated',
      "oms.pool.set-sla: PoolReads.undecorated has no @MessagePattern('oms.pool.set-sla')",
      'oms.pool.set-sla: PoolReads.undecorated must take its message as SetPoolSlaCommand (its first parameter) to be validated',
      "oms.pool.set-sla: no handler registered (is PoolReads among the module's controllers?)",
      'oms.task.get: handled but not in the service\'s routes',
    ]);
  });
});

describe(NatsRpcTransport.name, () => {
  const transport = () => new NatsRpcTransport({} as RpcServer, {});
  const handler = () => Promise.resolve(1);

  it('refuses a second handler for one subject at start-up', () => {
    const server = transport();
    server.addHandler('oms.pool.get', handler);
    expect(() => server.addHandler('oms.pool.get', handler)).toThrow('oms.pool.get has two @MessagePattern handlers');
  });

  it('refuses to start when the handlers do not match the routes', async () => {
    const server = transport();
    server.addHandler('oms.pool.get', handler);
    const started = await new Promise<unknown>((resolve) => void server.listen(resolve));
    expect(String(started)).toContain('oms.pool.get: handled but not in the service');
  });
});

describe(RpcMessagePipe.name, () => {
  const pipe = new RpcMessagePipe();
  const asMessage = { type: 'body', metatype: GetPoolQuery } as const;

  it('validates a parsed message into an instance of its contract class', () => {
    const message = pipe.transform({ pool: 'payments' }, asMessage);
    expect(message).toBeInstanceOf(GetPoolQuery);
    expect(message).toEqual({ pool: 'payments' });
  });

  it('refuses a parsed message that breaks its contract', () => {
    expect(() => pipe.transform({ pool: 'payments', extra: 1 }, asMessage)).toThrow(DomainError);
  });

  it('passes on, as it is, a message the server has already validated (a bot\'s, to check its pools)', () => {
    const validated = validateMessage(GetPoolQuery, { pool: 'payments' });
    expect(pipe.transform(validated, asMessage)).toBe(validated);
  });

  it('passes the call context through', () => {
    const call = { actor: { id: 'a', roles: [] } };
    expect(pipe.transform(call, { type: 'custom', metatype: Object })).toBe(call);
  });
});
