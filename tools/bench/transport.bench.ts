/**
 * `npm run bench -- transport`: the RPC dispatch alone, in one process, without NATS or Postgres:
 * one `oms.task.complete` message (parsed from its JSON each time, as a received one is) from the
 * point `RpcServer` hands it on to the handler's answer, through the services' Nest transport
 * (`@MessagePattern` method, `RpcMessagePipe`, `RpcErrorFilter`) and through the plain handler map
 * of `RpcServer.serve` (validation, then the handler). The handler answers at once, so everything
 * measured is the dispatch. `--mode nest|plain` runs one of them only, for a count of
 * instructions under `valgrind --tool=callgrind` (the difference of two `--calls` counts, divided
 * by the calls between them, is the instructions per call, whatever the machine's load).
 */
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import { CompleteTaskCommand, RpcSubjects, type RpcSubject } from '@hms/contracts';
import { NatsRpcTransport, RpcCall, RpcController, RpcErrors, RpcServer, createLogger, type RpcDispatch, type RpcHandlers } from '@hms/platform';
import type { Msg } from '@nats-io/transport-node';
import { formatNumber, printTable } from './bench-support';

const SUBJECT = RpcSubjects.taskComplete;
const MESSAGE_JSON = JSON.stringify({ taskId: '01890a5d-ac96-774b-bcce-b302099a8057', leaseToken: '01890a5d-ac96-774b-bcce-b302099a8058', output: { ok: true, n: 1 } });
const ANSWER = { id: '01890a5d-ac96-774b-bcce-b302099a8057', state: 'completed' };
const ACTOR = { id: 'bench', roles: ['manager' as const] };

@RpcController()
class CompleteHandler {
  @MessagePattern(RpcSubjects.taskComplete)
  taskComplete(@Payload() command: CompleteTaskCommand, @Ctx() { actor }: RpcCall) {
    return Promise.resolve({ ...ANSWER, by: actor.id, task: command.taskId });
  }
}

/** What `RpcServer.subscribe` would be given: the dispatch both ways end in. */
function capturingServer(): { server: RpcServer; dispatch: () => RpcDispatch } {
  let captured: RpcDispatch | undefined;
  const server = Object.assign(Object.create(RpcServer.prototype) as RpcServer, {
    subscribe: async (_subjects: readonly RpcSubject[], dispatch: RpcDispatch) => {
      captured = dispatch;
    },
    stop: async () => undefined,
  });
  return { server, dispatch: () => captured! };
}

async function nestDispatch(): Promise<{ dispatch: RpcDispatch; close(): Promise<void> }> {
  const { server, dispatch } = capturingServer();
  const routes = { [SUBJECT]: { handlerClass: CompleteHandler, method: 'taskComplete' } };
  @Module({ controllers: [CompleteHandler], providers: [{ provide: RpcErrors, useValue: new RpcErrors(createLogger('bench', 'error')) }] })
  class BenchModule {}
  const app = await NestFactory.createMicroservice(BenchModule, { strategy: new NatsRpcTransport(server, routes), logger: false });
  await app.listen();
  return { dispatch: dispatch(), close: () => app.close() };
}

async function plainDispatch(): Promise<{ dispatch: RpcDispatch; close(): Promise<void> }> {
  const { server, dispatch } = capturingServer();
  const handlers = { [SUBJECT]: async (command: CompleteTaskCommand, { actor }: { actor: { id: string } }) => ({ ...ANSWER, by: actor.id, task: command.taskId }) };
  await server.serve(handlers as unknown as RpcHandlers<'oms'>);
  return { dispatch: dispatch(), close: async () => undefined };
}

/** CPU microseconds per call over `calls` calls, one at a time (as a long run of one subject arrives). */
async function run(dispatch: RpcDispatch, calls: number): Promise<number> {
  const msg = {} as Msg;
  const start = process.cpuUsage();
  for (let i = 0; i < calls; i += 1) {
    const call = new RpcCall(SUBJECT, ACTOR, MESSAGE_JSON.length, 1_048_576, msg);
    await dispatch(SUBJECT, JSON.parse(MESSAGE_JSON), call);
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / calls;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export async function transportBench(options: { calls: number; rounds: number; warmup: number; mode: 'both' | 'nest' | 'plain' }): Promise<void> {
  const ways = { plain: await plainDispatch(), nest: await nestDispatch() };
  const chosen = options.mode === 'both' ? (['plain', 'nest'] as const) : ([options.mode] as const);
  for (const way of chosen) await run(ways[way].dispatch, options.warmup);
  const figures: Record<string, number[]> = { plain: [], nest: [] };
  // Alternating rounds: a burst of load on the machine falls on both alike.
  for (let round = 0; round < options.rounds; round += 1) for (const way of chosen) figures[way].push(await run(ways[way].dispatch, options.calls));
  printTable(
    `CPU µs per call, median of ${options.rounds} alternating rounds of ${options.calls} calls (after ${options.warmup} each to warm up)`,
    ['dispatch', 'µs / call', 'rounds'],
    chosen.map((way) => [way === 'plain' ? 'RpcServer.serve (validate, then the handler)' : 'Nest transport (@MessagePattern, pipe, filter)', formatNumber(median(figures[way])), figures[way].map((v) => formatNumber(v)).join(', ')]),
  );
  for (const way of Object.values(ways)) await way.close();
}
