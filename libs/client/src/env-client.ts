import { HmsClient } from './hms-client';

/** Where a client made from the environment points when `HMS_URL` is not set (the dev stack). */
export const DEFAULT_HMS_URL = 'http://localhost:3000';

/** Options of {@link clientFromEnvironment}. */
export interface EnvironmentClientOptions {
  /**
   * Headers sent with every call, e.g. `{ Authorization: 'Bearer …' }` (which then takes the place
   * of `HMS_TOKEN`), as the seed snippets pass them.
   */
  headers?: Record<string, string>;
  /** Defaults to `process.env`. */
  env?: Record<string, string | undefined>;
  fetch?: typeof fetch;
}

function bearerOf(headers: Record<string, string>): string | undefined {
  const entry = Object.entries(headers).find(([name]) => name.toLowerCase() === 'authorization');
  const match = entry && /^Bearer\s+(.+)$/i.exec(entry[1].trim());
  return match ? match[1] : undefined;
}

/**
 * An {@link HmsClient} configured the way the seed packages (`@hms-act/client`, `@hms-oms/client`,
 * `@hms-ops/client`, `@hms-oms/queue`) and the Python SDK are: the gateway at `HMS_URL`, the JWT
 * in `HMS_TOKEN`, or the call's own `headers`.
 */
export function clientFromEnvironment(options: EnvironmentClientOptions = {}): { client: HmsClient; token: string | undefined } {
  const env = options.env ?? process.env;
  const headers = options.headers ?? {};
  const token = bearerOf(headers) ?? (env.HMS_TOKEN || undefined);
  // The token travels as the client's own; any other header is added to every call.
  const extra = Object.fromEntries(Object.entries(headers).filter(([name]) => name.toLowerCase() !== 'authorization'));
  const baseFetch: typeof fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const fetchWithHeaders: typeof fetch = Object.keys(extra).length === 0
    ? baseFetch
    : (input, init) => {
        const merged = new Headers(init?.headers);
        for (const [name, value] of Object.entries(extra)) if (!merged.has(name)) merged.set(name, value);
        return baseFetch(input, { ...init, headers: merged });
      };
  return { client: new HmsClient({ baseUrl: env.HMS_URL || DEFAULT_HMS_URL, token, fetch: fetchWithHeaders }), token };
}

/**
 * The `sub` claim of a JWT, read without verifying it (the gateway verifies): a worker's name is
 * the subject of its token, so the seed packages lease as that name. Undefined when unreadable.
 */
export function tokenSubject(token: string | undefined): string | undefined {
  const payload = token?.split('.')[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub?: unknown };
    return typeof claims.sub === 'string' && claims.sub !== '' ? claims.sub : undefined;
  } catch {
    return undefined;
  }
}
