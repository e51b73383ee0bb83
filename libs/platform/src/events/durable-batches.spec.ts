import { byRequestId, redeliveryDelayMs } from './durable-batches';

describe('byRequestId', () => {
  it('groups by request id in a stable order, keeping each request’s own order', () => {
    const items = [
      { requestId: 'b', n: 1 },
      { requestId: null, n: 2 },
      { requestId: 'a', n: 3 },
      { requestId: 'b', n: 4 },
      { requestId: 'a', n: 5 },
      { requestId: null, n: 6 },
    ];
    expect(byRequestId(items).map((i) => i.n)).toEqual([2, 6, 3, 5, 1, 4]);
  });
});

describe('redeliveryDelayMs', () => {
  it('doubles from 0.25 s and stops at 30 s', () => {
    expect([0, 1, 2, 3, 7, 8, 50].map((n) => redeliveryDelayMs(n))).toEqual([250, 500, 1000, 2000, 30_000, 30_000, 30_000]);
  });

  it('doubles from the configured base, so tests can make redeliveries quick', () => {
    expect([1, 2, 3, 4].map((n) => redeliveryDelayMs(n, 5))).toEqual([10, 20, 40, 80]);
  });
});
