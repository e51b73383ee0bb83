import { parseRetryAfter } from './hms-api-error';
import { HmsClient } from './hms-client';
import type { RetryOptions } from './http-transport';
import { createFakeFetch, type FakeReply } from './testing/fake-fetch';

const unavailable = (retryAfter?: string): FakeReply => ({
  status: 503,
  body: { error: { code: 'UNAVAILABLE', message: 'oms did not answer' }, requestId: 'x' },
  ...(retryAfter ? { headers: { 'retry-after': retryAfter } } : {}),
});
const rateLimited: FakeReply = { status: 429, body: { error: { code: 'RATE_LIMITED', message: 'slow down' }, requestId: 'y' }, headers: { 'retry-after': '2' } };
const pools: FakeReply = { status: 200, body: { items: [] } };
const created: FakeReply = { status: 201, body: { id: 'r1', plan: 'p', version: 1, status: 'running', createdAt: 't', slaDueAt: null, reference: null } };

function setup(retry?: RetryOptions) {
  const fake = createFakeFetch();
  const hms = new HmsClient({ baseUrl: 'http://hms.test', fetch: fake.fetch, ...(retry ? { retry } : {}) });
  return { hms, fake };
}

/** Lets the call run until it waits on a timer, then returns how many requests it has sent. */
async function callsAfter(fake: ReturnType<typeof createFakeFetch>, ms: number): Promise<number> {
  await jest.advanceTimersByTimeAsync(ms);
  return fake.calls.length;
}

describe('Retry-After', () => {
  beforeEach(() => jest.useFakeTimers({ now: Date.parse('2026-12-06T12:00:00Z') }));
  afterEach(() => jest.useRealTimers());

  it('repeats a GET answered 503 after the time the server asked for', async () => {
    const { hms, fake } = setup();
    fake.enqueue(unavailable('1'), pools);
    const listed = hms.pools.list();
    expect(await callsAfter(fake, 999)).toBe(1);
    expect(await callsAfter(fake, 1)).toBe(2);
    await expect(listed).resolves.toEqual({ items: [] });
  });

  it('does not repeat an answer without Retry-After', async () => {
    const { hms, fake } = setup();
    fake.enqueue(unavailable(), pools);
    await expect(hms.pools.list()).rejects.toMatchObject({ code: 'UNAVAILABLE', retryable: true });
    expect(fake.calls).toHaveLength(1);
  });

  it('repeats any call answered 429, which the gateway refused before doing anything', async () => {
    const { hms, fake } = setup();
    fake.enqueue(rateLimited, created);
    const request = hms.requests.create({ plan: 'p', payload: {} });
    expect(await callsAfter(fake, 1_999)).toBe(1);
    expect(await callsAfter(fake, 1)).toBe(2);
    await expect(request).resolves.toMatchObject({ id: 'r1', created: true });
  });

  it('repeats a POST answered 503 only when it carries an Idempotency-Key', async () => {
    const { hms, fake } = setup();
    fake.enqueue(unavailable('1'));
    // The service may have made the request before the gateway gave up waiting: not repeated blindly.
    await expect(hms.requests.create({ plan: 'p', payload: {} })).rejects.toMatchObject({ status: 503, retryAfterMs: 1000 });
    expect(fake.calls).toHaveLength(1);

    fake.enqueue(unavailable('1'), created);
    const keyed = hms.requests.create({ plan: 'p', payload: {} }, { idempotencyKey: 'ticket-1' });
    expect(await callsAfter(fake, 1_000)).toBe(3);
    await expect(keyed).resolves.toMatchObject({ id: 'r1' });
  });

  it('gives up after maxRetries repeats, and maxRetries 0 turns it off', async () => {
    const { hms, fake } = setup();
    fake.enqueue(unavailable('1'), unavailable('1'), unavailable('1'), pools);
    const listed = hms.pools.list().catch((error: unknown) => error);
    await jest.advanceTimersByTimeAsync(2_000);
    await expect(listed).resolves.toMatchObject({ code: 'UNAVAILABLE' });
    expect(fake.calls).toHaveLength(3);

    const off = setup({ maxRetries: 0 });
    off.fake.enqueue(unavailable('1'), pools);
    await expect(off.hms.pools.list()).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(off.fake.calls).toHaveLength(1);
  });

  it('throws at once, saying how long, when the server asks for a longer wait than maxDelayMs', async () => {
    const { hms, fake } = setup({ maxDelayMs: 5_000 });
    fake.enqueue(unavailable('120'), pools);
    await expect(hms.pools.list()).rejects.toMatchObject({ code: 'UNAVAILABLE', retryAfterMs: 120_000 });
    expect(fake.calls).toHaveLength(1);
  });

  it('stops waiting when the caller aborts', async () => {
    const { hms, fake } = setup();
    fake.enqueue(unavailable('10'), pools);
    const stop = new AbortController();
    const listed = hms.pools.list({ signal: stop.signal }).catch((error: unknown) => error);
    await jest.advanceTimersByTimeAsync(100);
    stop.abort(new Error('shutting down'));
    await expect(listed).resolves.toMatchObject({ message: 'shutting down' });
    expect(fake.calls).toHaveLength(1);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-12-06T12:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Sun, 06 Dec 2026 12:00:05 GMT', now)).toBe(5_000);
    expect(parseRetryAfter('Sun, 06 Dec 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-1', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});
