import { clientFromEnvironment, DEFAULT_HMS_URL, tokenSubject } from './env-client';
import { createFakeFetch } from './testing/fake-fetch';

const jwt = (claims: object) => `h.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.s`;

describe('clientFromEnvironment', () => {
  it('calls HMS_URL with HMS_TOKEN', async () => {
    const fake = createFakeFetch(() => ({ body: { items: [] } }));
    const { client, token } = clientFromEnvironment({ env: { HMS_URL: 'http://hms.test/', HMS_TOKEN: 'env-token' }, fetch: fake.fetch });
    await client.plans.list();
    expect(token).toBe('env-token');
    expect(fake.calls[0]).toMatchObject({ url: 'http://hms.test/v1/plans', headers: expect.objectContaining({ authorization: 'Bearer env-token' }) });
  });

  it("takes the call's Authorization header over HMS_TOKEN and sends its other headers with every call", async () => {
    const fake = createFakeFetch(() => ({ body: { items: [] } }));
    const { client, token } = clientFromEnvironment({
      env: { HMS_TOKEN: 'env-token' },
      headers: { Authorization: 'Bearer call-token', 'X-Trace': 'abc' },
      fetch: fake.fetch,
    });
    await client.plans.list();
    expect(token).toBe('call-token');
    expect(fake.calls[0].url).toBe(`${DEFAULT_HMS_URL}/v1/plans`);
    expect(fake.calls[0].headers).toMatchObject({ authorization: 'Bearer call-token', 'x-trace': 'abc' });
  });
});

describe('tokenSubject', () => {
  it.each([
    [jwt({ sub: 'ana.smith@gov' }), 'ana.smith@gov'],
    [jwt({ sub: '' }), undefined],
    [jwt({ roles: ['worker'] }), undefined],
    ['not-a-jwt', undefined],
    ['a.%%%.c', undefined],
    [undefined, undefined],
  ])('%s → %s', (token, subject) => expect(tokenSubject(token)).toBe(subject));
});
