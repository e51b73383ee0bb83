import { MetricsStream } from './metrics-stream';
import type { RpcGateway } from '../http/rpc-gateway';

/** A stand-in for OPS behind NATS whose snapshot takes `tookMs` (fake time). */
function opsTaking(tookMs: number) {
  const calls: number[] = [];
  const rpc = {
    call: jest.fn(async () => {
      calls.push(Date.now());
      await new Promise((resolve) => setTimeout(resolve, tookMs));
      return { pools: [{ pool: 'desk' }] };
    }),
  } as unknown as RpcGateway;
  return { rpc, calls };
}

describe('MetricsStream', () => {
  beforeEach(() => jest.useFakeTimers({ now: 0 }));
  afterEach(() => jest.useRealTimers());

  it('polls once a second for all listeners together, and not at all without one', async () => {
    const { rpc, calls } = opsTaking(20);
    const stream = new MetricsStream(rpc);
    const seen: string[] = [];
    const stopA = stream.listen(() => seen.push('a'), () => undefined);
    const stopB = stream.listen(() => seen.push('b'), () => undefined);
    await jest.advanceTimersByTimeAsync(3_500);
    expect(calls).toEqual([1_000, 2_000, 3_000]);
    expect(seen).toEqual(['a', 'b', 'a', 'b', 'a', 'b']);
    stopA();
    stopB();
    await jest.advanceTimersByTimeAsync(5_000);
    expect(calls).toHaveLength(3);
  });

  it('stretches the period to ten times a slow snapshot, so OPS is busy at most a tenth of the time', async () => {
    const { rpc, calls } = opsTaking(300);
    const stream = new MetricsStream(rpc);
    stream.listen(() => undefined, () => undefined);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(calls).toEqual([1_000, 4_000, 7_000, 10_000]);
  });

  it('keeps one rhythm when a listener leaves and another comes while a poll is on its way', async () => {
    const { rpc, calls } = opsTaking(200);
    const stream = new MetricsStream(rpc);
    const stop = stream.listen(() => undefined, () => undefined);
    await jest.advanceTimersByTimeAsync(1_100);
    stop();
    stream.listen(() => undefined, () => undefined);
    await jest.advanceTimersByTimeAsync(3_000);
    expect(calls).toEqual([1_000, 3_000]);
  });

  it('ends every open stream when the gateway shuts down', () => {
    const { rpc } = opsTaking(1);
    const stream = new MetricsStream(rpc);
    const ended: string[] = [];
    stream.listen(() => undefined, () => ended.push('a'));
    stream.listen(() => undefined, () => ended.push('b'));
    stream.onModuleDestroy();
    expect(ended).toEqual(['a', 'b']);
  });
});
