/**
 * A scripted stand-in for `fetch`, for testing code that uses {@link HmsClient} without a
 * gateway: it records every call and answers from a queue or a router function.
 */

/** One call as the fake saw it. */
export interface RecordedCall {
  method: string;
  url: string;
  /** Path plus query string, e.g. `/v1/requests?plan=p`. */
  path: string;
  /** Header names lower-cased. */
  headers: Record<string, string>;
  body: string | undefined;
  /** The body parsed as JSON (undefined when empty). */
  json: unknown;
  signal: AbortSignal | undefined;
}

/** How to answer a call: a response description, an Error to reject with, or `'hang'` until aborted. */
export type FakeReply = { status?: number; body?: unknown; headers?: Record<string, string> } | Error | 'hang';

/** Picks the answer for a call when the queue is empty. */
export type FakeRoute = (call: RecordedCall) => FakeReply | Promise<FakeReply>;

export interface FakeFetch {
  fetch: typeof fetch;
  calls: RecordedCall[];
  /** Queues answers used in order before the router. */
  enqueue: (...replies: FakeReply[]) => void;
  /** Calls whose path (without query) equals or starts with the prefix. */
  callsTo: (pathPrefix: string) => RecordedCall[];
}

/** A fake fetch; without a route and with an empty queue every call gets `200 {}`. */
export function createFakeFetch(route?: FakeRoute): FakeFetch {
  const calls: RecordedCall[] = [];
  const queue: FakeReply[] = [];

  const fake = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const parsed = new URL(url);
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, key) => {
      headers[key] = value;
    });
    const body = typeof init.body === 'string' ? init.body : undefined;
    let json: unknown;
    try {
      json = body === undefined ? undefined : JSON.parse(body);
    } catch {
      json = undefined;
    }
    const call: RecordedCall = {
      method: init.method ?? 'GET',
      url,
      path: `${parsed.pathname}${parsed.search}`,
      headers,
      body,
      json,
      signal: init.signal ?? undefined,
    };
    calls.push(call);

    const signal = init.signal ?? undefined;
    if (signal?.aborted) throw signal.reason;
    const reply = await new Promise<Exclude<FakeReply, 'hang'>>((resolve, reject) => {
      signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
      Promise.resolve(queue.length > 0 ? queue.shift()! : route ? route(call) : { status: 200, body: {} }).then((r) => {
        if (r !== 'hang') resolve(r);
      }, reject);
    });
    if (reply instanceof Error) throw reply;
    const status = reply.status ?? 200;
    const text = reply.body === undefined ? '' : typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
    const responseHeaders = { ...(typeof reply.body === 'object' ? { 'content-type': 'application/json' } : {}), ...reply.headers };
    return new Response(status === 204 ? null : text, { status, headers: responseHeaders });
  };

  return {
    fetch: fake as typeof fetch,
    calls,
    enqueue: (...replies) => queue.push(...replies),
    callsTo: (prefix) => calls.filter((c) => new URL(c.url).pathname.startsWith(prefix)),
  };
}

/** Resolves once `condition` holds, polling every few ms; fails the test after `timeoutMs`. */
export async function eventually(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
