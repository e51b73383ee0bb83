import { errorFromResponse, HmsApiError } from './hms-api-error';
import { sleep } from './sleep';

/** Per-call options every SDK method accepts last. */
export interface CallOptions {
  /** Aborts the call; the promise then rejects with the signal's reason, not an HmsApiError. */
  signal?: AbortSignal;
  /** Overrides the client's timeout for this call. */
  timeoutMs?: number;
}

/** Query-string values; `undefined`/`null` entries are left out. */
export type QueryParams = Record<string, string | number | boolean | null | undefined>;

/** One HTTP exchange as the namespaces describe it. */
export interface HttpCall extends CallOptions {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  query?: QueryParams;
  /** Sent as JSON. */
  json?: unknown;
  /** Sent verbatim with its own content type (YAML plans). */
  text?: { body: string; contentType: string };
  headers?: Record<string, string>;
}

/** A successful answer: 2xx status and the parsed body (undefined when empty). */
export interface HttpResult<T> {
  status: number;
  body: T;
  headers: Headers;
}

/**
 * How calls answered `429` or `503` with a `Retry-After` header are repeated. Only such answers
 * are: the server said the call may succeed after that wait. A `503` is repeated only for calls
 * that are safe to repeat (GET, PUT, DELETE, or a POST with an `Idempotency-Key`), since the
 * service may have done the work before the gateway gave up waiting; a `429` was refused before
 * any work, so every call is repeated.
 */
export interface RetryOptions {
  /** Repeats after the first answer; default 2. 0 turns retrying off. */
  maxRetries?: number;
  /** A `Retry-After` longer than this is not waited for: the error is thrown at once (its `retryAfterMs` says how long). Default 30 s. */
  maxDelayMs?: number;
}

/** Settings of {@link HttpTransport}; see HmsClientOptions. */
export interface HttpTransportOptions {
  baseUrl: string;
  token?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
  retry?: RetryOptions;
}

export const DEFAULT_RETRY: Required<RetryOptions> = { maxRetries: 2, maxDelayMs: 30_000 };

/** Default client-side timeout: above the gateway's own upstream timeout, so its 503 wins. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/** Sends calls to the gateway and turns every failure into an {@link HmsApiError}. */
export class HttpTransport {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly retry: Required<RetryOptions>;
  private readonly token?: string;
  private readonly fetchImpl: typeof fetch;

  constructor(options: HttpTransportOptions) {
    if (!options.baseUrl) throw new TypeError('HmsClient: baseUrl is required');
    // Keeps a path prefix (a gateway behind /hms) while avoiding `//v1/...`.
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    if (options.token) this.token = options.token;
    const custom = options.fetch;
    // Resolved at call time and never called as a method: some fetch implementations reject a
    // foreign `this`, and tests may swap the global after the client is made.
    this.fetchImpl = custom ? (input, init) => custom(input, init) : (input, init) => globalThis.fetch(input, init);
  }

  /** The absolute URL of a path plus query. */
  url(path: string, query?: QueryParams): string {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined && value !== null) search.append(key, String(value));
    }
    const qs = search.toString();
    return `${this.baseUrl}${path}${qs ? `?${qs}` : ''}`;
  }

  /** The Authorization header of every call, when the client has a token. */
  authorization(): Record<string, string> {
    return this.token ? { Authorization: `Bearer ${this.token}` } : {};
  }

  /** One call, repeated as {@link RetryOptions} says while the answer asks to retry later. */
  async send<T>(call: HttpCall): Promise<HttpResult<T>> {
    for (let retries = 0; ; retries++) {
      try {
        return await this.sendOnce<T>(call);
      } catch (error) {
        const delayMs = error instanceof HmsApiError ? error.retryAfterMs : undefined;
        if (delayMs === undefined || retries >= this.retry.maxRetries || delayMs > this.retry.maxDelayMs || !mayRepeat(call, error as HmsApiError)) throw error;
        await sleep(delayMs, call.signal);
        if (call.signal?.aborted) throw call.signal.reason;
      }
    }
  }

  private async sendOnce<T>(call: HttpCall): Promise<HttpResult<T>> {
    const headers: Record<string, string> = { Accept: 'application/json', ...this.authorization() };
    let body: string | undefined;
    if (call.text) {
      body = call.text.body;
      headers['Content-Type'] = call.text.contentType;
    } else if (call.json !== undefined) {
      body = JSON.stringify(call.json);
      headers['Content-Type'] = 'application/json';
    }
    Object.assign(headers, call.headers);

    const exchange = this.exchange(call, { method: call.method, headers, body });
    try {
      let response: Response;
      let text: string;
      try {
        response = await exchange.response;
        // Read inside the timeout too: a server that stalls mid-body must not hang the caller.
        text = await response.text();
      } catch (cause) {
        throw exchange.failure(cause);
      }
      const parsed = parseBody(text);
      if (!response.ok) throw errorFromResponse(response.status, parsed, response.headers.get('x-request-id'), response.headers.get('retry-after'));
      return { status: response.status, body: parsed as T, headers: response.headers };
    } finally {
      exchange.stopTimer();
      exchange.unlink();
    }
  }

  /**
   * Starts one request under the call's timeout and its caller's `signal`. The owner stops the
   * timer when the answer is in (all of it, or its head for a stream), unlinks the caller's
   * signal when done, and turns a failure into what the caller sees: the caller's own abort
   * reason, or HmsApiError UNAVAILABLE saying whether time ran out.
   */
  exchange(call: Pick<HttpCall, 'method' | 'path' | 'query' | 'signal' | 'timeoutMs'>, init: RequestInit): {
    response: Promise<Response>;
    controller: AbortController;
    stopTimer(): void;
    unlink(): void;
    failure(cause: unknown): unknown;
  } {
    const timeoutMs = call.timeoutMs ?? this.timeoutMs;
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const onCallerAbort = (): void => controller.abort(call.signal?.reason);
    if (call.signal?.aborted) onCallerAbort();
    else call.signal?.addEventListener('abort', onCallerAbort, { once: true });
    return {
      response: this.fetchImpl(this.url(call.path, call.query), { ...init, signal: controller.signal }),
      controller,
      stopTimer: () => clearTimeout(timer),
      unlink: () => call.signal?.removeEventListener('abort', onCallerAbort),
      failure: (cause) => {
        if (call.signal?.aborted) return call.signal.reason ?? cause;
        const message = timedOut ? `${call.method} ${call.path} got no answer within ${timeoutMs} ms` : `${call.method} ${call.path} failed: ${describeCause(cause)}`;
        return new HmsApiError({ status: 0, code: 'UNAVAILABLE', message, cause });
      },
    };
  }
}

/**
 * Opens a Server-Sent Events response and yields its events. The call's timeout covers only the
 * wait for the response head: the body is open-ended. An error answer throws as `send` does.
 */
export async function* readEventStream(transport: HttpTransport, call: Omit<HttpCall, 'method' | 'json' | 'text'>): AsyncGenerator<ServerSentEvent, void, undefined> {
  const headers: Record<string, string> = { Accept: 'text/event-stream', ...transport.authorization(), ...call.headers };
  const exchange = transport.exchange({ ...call, method: 'GET' }, { method: 'GET', headers });
  try {
    let response: Response;
    try {
      response = await exchange.response;
    } catch (cause) {
      throw exchange.failure(cause);
    } finally {
      exchange.stopTimer();
    }
    if (!response.ok) throw errorFromResponse(response.status, parseBody(await response.text()), response.headers.get('x-request-id'));
    if (!response.body) return;
    const decoder = new TextDecoder();
    let buffered = '';
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffered += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, '\n');
        let end: number;
        while ((end = buffered.indexOf('\n\n')) >= 0) {
          const event = parseServerSentEvent(buffered.slice(0, end));
          buffered = buffered.slice(end + 2);
          if (event) yield event;
        }
      }
    } catch (cause) {
      if (call.signal?.aborted) return;
      throw new HmsApiError({ status: 0, code: 'UNAVAILABLE', message: `GET ${call.path}: the stream broke: ${describeCause(cause)}`, cause });
    }
  } finally {
    exchange.unlink();
    // Leaving the loop early (break, return) closes the connection.
    exchange.controller.abort();
  }
}

/** One event of a text/event-stream (comments and `retry:` lines dropped). */
export interface ServerSentEvent {
  event: string;
  data: string;
}

/** Parses one event block; null for a block with no data (a comment, a `retry:`). */
export function parseServerSentEvent(block: string): ServerSentEvent | null {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  return data.length === 0 ? null : { event, data: data.join('\n') };
}

/** Whether a call answered `error` may be sent again unchanged (see {@link RetryOptions}). */
function mayRepeat(call: HttpCall, error: HmsApiError): boolean {
  if (error.status === 429) return true;
  if (error.status !== 503) return false;
  return call.method !== 'POST' || Object.keys(call.headers ?? {}).some((name) => name.toLowerCase() === 'idempotency-key');
}

/** JSON when it parses, the raw text otherwise (so error pages still surface), undefined when empty. */
function parseBody(text: string): unknown {
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Node's fetch says only "fetch failed"; the useful part (ECONNREFUSED, DNS) is its cause. */
function describeCause(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const inner = cause.cause instanceof Error ? cause.cause.message : undefined;
  return inner && inner !== cause.message ? `${cause.message} (${inner})` : cause.message;
}
