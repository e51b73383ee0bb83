import { createHmac } from 'node:crypto';
import { lookup as dnsLookup } from 'node:dns/promises';
import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type BlockList, type LookupFunction } from 'node:net';
import { forbiddenAddress, forbiddenUrl } from './webhook-destination';

/** The headers a receiver verifies a delivery with (docs/api.md "Escalation webhooks"). */
export const WEBHOOK_SIGNATURE_HEADER = 'hms-signature';
export const WEBHOOK_TIMESTAMP_HEADER = 'hms-timestamp';

/**
 * `sha256=<hex HMAC-SHA256 over "<timestamp>.<body>">`: the timestamp is signed with the body, so
 * a receiver that refuses old timestamps cannot be fed a recorded delivery again.
 */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export interface WebhookPolicy {
  allowHttp: boolean;
  allowed: BlockList;
  timeoutMs: number;
  /** Name resolution (all addresses of a name); replaced in tests. */
  resolve?: (hostname: string) => Promise<string[]>;
}

/**
 * The outcome of one post; `reason` is for the log only, never shown to API callers. A refused
 * destination is `final`: trying again would only be refused again (until the policy or the
 * name's addresses change, which a manager fixes by changing the pool's webhook).
 */
export type WebhookOutcome = { ok: true } | { ok: false; reason: string; final?: true };

const resolveAll = async (hostname: string) => (await dnsLookup(hostname, { all: true, verbatim: true })).map((entry) => entry.address);

/**
 * POSTs `body` to `url` if the URL and every address its host resolves to are allowed (see
 * webhook-destination.ts), connecting to the first checked address and to no other: the name is
 * not resolved again by the HTTP client, so a rebinding DNS answer cannot redirect the post.
 * TLS still checks the certificate against the URL's host name. Redirects are not followed.
 */
export async function postWebhook(url: string, body: string, headers: Record<string, string>, policy: WebhookPolicy): Promise<WebhookOutcome> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return { ok: false, reason: 'not a URL', final: true };
  }
  const refusedUrl = forbiddenUrl(target, policy.allowHttp);
  if (refusedUrl) return { ok: false, reason: `refused: ${refusedUrl}`, final: true };
  if (target.username || target.password) return { ok: false, reason: 'refused: credentials in the URL', final: true };
  const hostname = target.hostname.replace(/^\[(.*)\]$/, '$1');
  let addresses: string[];
  try {
    addresses = isIP(hostname) ? [hostname] : await (policy.resolve ?? resolveAll)(hostname);
  } catch (error) {
    return { ok: false, reason: `cannot resolve ${hostname}: ${(error as Error).message}` };
  }
  if (addresses.length === 0) return { ok: false, reason: `${hostname} has no address` };
  // Every address must pass: a name that also resolves to an internal one is refused outright.
  for (const address of addresses) {
    const refused = forbiddenAddress(address, policy.allowed);
    if (refused) return { ok: false, reason: `refused: ${hostname} resolves to ${address}, ${refused}`, final: true };
  }
  const pinned = addresses[0]!;
  const family = isIP(pinned);
  const lookup: LookupFunction = (_name, options, callback) => {
    if ((options as { all?: boolean }).all) (callback as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [{ address: pinned, family }]);
    else callback(null, pinned, family);
  };
  const options: RequestOptions & { servername?: string } = {
    method: 'POST',
    host: hostname,
    port: target.port || (target.protocol === 'https:' ? 443 : 80),
    path: `${target.pathname}${target.search}`,
    headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
    lookup,
    ...(target.protocol === 'https:' && !isIP(hostname) ? { servername: hostname } : {}),
  };
  return new Promise<WebhookOutcome>((resolve) => {
    const request = (target.protocol === 'https:' ? httpsRequest : httpRequest)(options, (response) => {
      clearTimeout(deadline);
      response.resume();
      const status = response.statusCode ?? 0;
      resolve(status >= 200 && status <= 299 ? { ok: true } : { ok: false, reason: `HTTP ${status}` });
    });
    // For the whole exchange, not per idle socket: a receiver trickling bytes is no answer either.
    const deadline = setTimeout(() => request.destroy(new Error(`no answer within ${policy.timeoutMs} ms`)), policy.timeoutMs);
    request.on('error', (error) => {
      clearTimeout(deadline);
      resolve({ ok: false, reason: error.message });
    });
    request.end(body);
  });
}
