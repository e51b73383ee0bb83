import { EventEmitter } from 'node:events';
import { METRICS_STREAMS_PER_TOKEN, type Actor } from '@hms/contracts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RpcGateway } from '../http/rpc-gateway';
import { PoolMetricsController } from './metrics.controller';
import { MetricsStream } from './metrics-stream';

/** OPS behind NATS: every snapshot answers at once, except the ones a test holds back. */
function fakeOps() {
  const held: Array<() => void> = [];
  let holdNext = 0;
  const rpc = {
    call: jest.fn(async () => {
      if (holdNext > 0) {
        holdNext -= 1;
        await new Promise<void>((resolve) => held.push(resolve));
      }
      return { pools: [{ pool: 'desk' }] };
    }),
  } as unknown as RpcGateway & { call: jest.Mock };
  return { rpc, holdNextCall: () => (holdNext += 1), releaseHeld: () => held.splice(0).forEach((resolve) => resolve()) };
}

/** An HTTP exchange as the controller uses it (Fastify's reply around a Node response); `close` is the client going away. */
function exchange() {
  const emitter = new EventEmitter();
  const raw = Object.assign(emitter, {
    written: [] as string[],
    ended: false,
    statusCode: 0,
    setHeader: jest.fn(),
    flushHeaders: jest.fn(),
    write: (chunk: string) => raw.written.push(chunk) > 0,
    end: () => {
      raw.ended = true;
      emitter.emit('close');
    },
  });
  const reply = { raw, hijack: jest.fn() };
  const request = { id: 'request-1', headers: {} } as unknown as FastifyRequest;
  return { request, response: raw, reply: reply as unknown as FastifyReply, close: () => raw.emit('close') };
}

const actor: Actor = { id: 'dashboard@hms', roles: ['manager'] };
const inAnHour = () => new Date(Date.now() + 3_600_000);

describe(PoolMetricsController.name, () => {
  beforeEach(() => jest.useFakeTimers({ now: 0 }));
  afterEach(() => jest.useRealTimers());

  it('leaves no listener, timer or slot behind when the client goes away before the first snapshot', async () => {
    const ops = fakeOps();
    const stream = new MetricsStream(ops.rpc);
    const controller = new PoolMetricsController(ops.rpc, stream);
    ops.holdNextCall();
    const { request, response, reply, close } = exchange();
    const opening = controller.streamPools({}, actor, inAnHour(), request, reply);
    close();
    ops.releaseHeld();
    await opening;
    await jest.advanceTimersByTimeAsync(60_000);
    // Only the first snapshot was asked for: no poll runs for a listener nobody reads, and no keep-alive is written.
    expect(ops.rpc.call).toHaveBeenCalledTimes(1);
    expect(response.written).toEqual([]);
    expect(jest.getTimerCount()).toBe(0);
    // The slot was given back: the token may still open its full share.
    for (let i = 0; i < METRICS_STREAMS_PER_TOKEN; i += 1) await controller.streamPools({}, actor, inAnHour(), request, exchange().reply);
  });

  it(`refuses a token's stream beyond ${METRICS_STREAMS_PER_TOKEN} open ones with RATE_LIMITED, and admits one again when another closes`, async () => {
    const ops = fakeOps();
    const controller = new PoolMetricsController(ops.rpc, new MetricsStream(ops.rpc));
    const open = [];
    for (let i = 0; i < METRICS_STREAMS_PER_TOKEN; i += 1) {
      const client = exchange();
      await controller.streamPools({}, actor, inAnHour(), client.request, client.reply);
      open.push(client);
    }
    const extra = exchange();
    await expect(controller.streamPools({}, actor, inAnHour(), extra.request, extra.reply)).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    // Another token is not affected.
    await controller.streamPools({}, { id: 'other', roles: ['manager'] }, inAnHour(), extra.request, extra.reply);
    open[0]!.close();
    const again = exchange();
    await controller.streamPools({}, actor, inAnHour(), again.request, again.reply);
  });

  it('ends the stream with an UNAUTHENTICATED event when its token expires', async () => {
    const ops = fakeOps();
    const controller = new PoolMetricsController(ops.rpc, new MetricsStream(ops.rpc));
    const client = exchange();
    await controller.streamPools({}, actor, new Date(Date.now() + 5_500), client.request, client.reply);
    await jest.advanceTimersByTimeAsync(5_000);
    expect(client.response.ended).toBe(false);
    await jest.advanceTimersByTimeAsync(1_000);
    expect(client.response.ended).toBe(true);
    expect(client.response.written.at(-1)).toMatch(/^event: error\ndata: .*"code":"UNAUTHENTICATED"/);
    const calls = ops.rpc.call.mock.calls.length;
    await jest.advanceTimersByTimeAsync(10_000);
    expect(ops.rpc.call.mock.calls.length).toBe(calls);
  });
});
