import { errorFromResponse, HmsApiError } from './hms-api-error';

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

/** Settings of {@link HttpTransport}; see HmsClientOptions. */
export interface HttpTransportOptions {
  baseUrl: string;
  token?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

/** Default client-side timeout: above the gateway's own upstream timeout, so its 503 wins. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/** Sends calls to the gateway and turns every failure into an {@link HmsApiError}. */
export class HttpTransport {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  private readonly token?: string;
  private readonly fetchImpl: typeof fetch;

  constructor(options: HttpTransportOptions) {
    if (!options.baseUrl) throw new TypeError('HmsClient: baseUrl is required');
    // Keeps a path prefix (a gateway behind /hms) while avoiding `//v1/...`.
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
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

  async send<T>(call: HttpCall): Promise<HttpResult<T>> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    let body: string | undefined;
    if (call.text) {
      body = call.text.body;
      headers['Content-Type'] = call.text.contentType;
    } else if (call.json !== undefined) {
      body = JSON.stringify(call.json);
      headers['Content-Type'] = 'application/json';
    }
    Object.assign(headers, call.headers);

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

    const url = this.url(call.path, call.query);
    try {
      let response: Response;
      let text: string;
      try {
        response = await this.fetchImpl(url, { method: call.method, headers, body, signal: controller.signal });
        // Read inside the timeout too: a server that stalls mid-body must not hang the caller.
        text = await response.text();
      } catch (cause) {
        if (call.signal?.aborted) throw call.signal.reason ?? cause;
        const message = timedOut
          ? `${call.method} ${call.path} got no answer within ${timeoutMs} ms`
          : `${call.method} ${call.path} failed: ${describeCause(cause)}`;
        throw new HmsApiError({ status: 0, code: 'UNAVAILABLE', message, cause });
      }
      const parsed = parseBody(text);
      if (!response.ok) throw errorFromResponse(response.status, parsed, response.headers.get('x-request-id'));
      return { status: response.status, body: parsed as T, headers: response.headers };
    } finally {
      clearTimeout(timer);
      call.signal?.removeEventListener('abort', onCallerAbort);
    }
  }
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
