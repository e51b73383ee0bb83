import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { postWebhook, webhookSignature, type WebhookPolicy } from './webhook-delivery';
import { parseAllowList } from './webhook-destination';

/** A receiver on loopback: what a metadata service or an internal admin port looks like to OPS. */
async function receiver(): Promise<{ port: number; posts: Array<{ headers: IncomingHttpHeaders; body: string }>; close(): Promise<void> }> {
  const posts: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      posts.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      response.statusCode = 204;
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, posts, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe(postWebhook.name, () => {
  let hook: Awaited<ReturnType<typeof receiver>>;
  const strict: WebhookPolicy = { allowHttp: true, allowed: parseAllowList(''), timeoutMs: 2000 };
  const forTests: WebhookPolicy = { ...strict, allowed: parseAllowList('127.0.0.1') };

  beforeEach(async () => {
    hook = await receiver();
  });

  afterEach(async () => {
    await hook.close();
  });

  it('posts to a destination on the allow-list, with a signature the receiver can check', async () => {
    const body = JSON.stringify({ alert: { id: 'a1' } });
    const signature = webhookSignature('a-shared-secret-value', '1700000000', body);
    const outcome = await postWebhook(`http://127.0.0.1:${hook.port}/hooks?x=1`, body, { 'hms-timestamp': '1700000000', 'hms-signature': signature }, forTests);
    expect(outcome).toEqual({ ok: true });
    expect(hook.posts).toHaveLength(1);
    expect(hook.posts[0]!.body).toBe(body);
    expect(hook.posts[0]!.headers['hms-signature']).toBe(webhookSignature('a-shared-secret-value', hook.posts[0]!.headers['hms-timestamp'] as string, hook.posts[0]!.body));
  });

  it.each([
    ['a loopback address', (port: number) => `http://127.0.0.1:${port}/`],
    ['the loopback name', (port: number) => `http://localhost:${port}/`],
    ['an IPv4-mapped loopback address', (port: number) => `http://[::ffff:127.0.0.1]:${port}/`],
  ])('refuses %s without the allow-list, and nothing is posted', async (_, url) => {
    const outcome = await postWebhook(url(hook.port), '{}', {}, strict);
    expect(outcome).toMatchObject({ ok: false, final: true, reason: expect.stringMatching(/^refused/) });
    expect(hook.posts).toEqual([]);
  });

  it('refuses the metadata service and a name that resolves to a private address', async () => {
    expect(await postWebhook('http://169.254.169.254/latest/meta-data/', '{}', {}, strict)).toMatchObject({ ok: false, final: true });
    const resolvesInside: WebhookPolicy = { ...strict, resolve: async () => ['93.184.215.14', '10.0.0.7'] };
    expect(await postWebhook('https://hooks.example/x', '{}', {}, resolvesInside)).toMatchObject({ ok: false, reason: expect.stringContaining('10.0.0.7') });
  });

  it('connects to the address it checked, not to a second resolution of the name (DNS rebinding)', async () => {
    // The first (checked) answer is the only one used: the HTTP client does not resolve the name
    // again (`rebind.invalid` has no address in real DNS, so a second lookup would fail).
    let lookups = 0;
    const once: WebhookPolicy = { ...forTests, resolve: async () => (lookups++ === 0 ? ['127.0.0.1'] : ['169.254.169.254']) };
    expect(await postWebhook(`http://rebind.invalid:${hook.port}/`, '{}', {}, once)).toEqual({ ok: true });
    expect(lookups).toBe(1);
    expect(hook.posts[0]!.headers.host).toBe(`rebind.invalid:${hook.port}`);
  });

  it('refuses plain http unless allowed, and other schemes always', async () => {
    const httpsOnly: WebhookPolicy = { ...forTests, allowHttp: false };
    expect(await postWebhook(`http://127.0.0.1:${hook.port}/`, '{}', {}, httpsOnly)).toMatchObject({ ok: false, reason: expect.stringContaining('OPS_WEBHOOK_ALLOW_HTTP') });
    expect(await postWebhook(`ftp://127.0.0.1:${hook.port}/`, '{}', {}, forTests)).toMatchObject({ ok: false, final: true });
    expect(hook.posts).toEqual([]);
  });
});
