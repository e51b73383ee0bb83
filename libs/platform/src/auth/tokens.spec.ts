import { SignJWT, type JWTPayload } from 'jose';
import { TOKEN_CLOCK_SKEW_SECONDS } from '@hms/contracts';
import { signToken, TokenVerifier } from './tokens';

const SECRET = 'a-test-secret-of-some-length';
const NOW = new Date('2026-12-06T12:00:00Z');
const nowSeconds = NOW.getTime() / 1000;

/** A token with exactly these claims (jose adds nothing we did not ask for). */
function forge(claims: JWTPayload, secret = SECRET): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(secret));
}

const valid = { sub: 'ana', roles: ['worker'], pools: ['desk'], iat: nowSeconds - 10, exp: nowSeconds + 3600 };

describe(TokenVerifier.name, () => {
  const verifier = new TokenVerifier({ secret: SECRET, maxLifetimeSeconds: 24 * 3600 });

  it('accepts a well-formed token and says when it expires', async () => {
    await expect(verifier.verify(await forge(valid), NOW)).resolves.toEqual({ sub: 'ana', roles: ['worker'], pools: ['desk'], expiresAt: new Date((nowSeconds + 3600) * 1000) });
  });

  it('accepts what signToken issues (the dev stack, tests, bench and `hms token`)', async () => {
    await expect(new TokenVerifier({ secret: SECRET }).verify(await signToken({ sub: 'm', roles: ['manager'] }, SECRET))).resolves.toMatchObject({ sub: 'm' });
  });

  it.each<[string, JWTPayload]>([
    ['no exp (a token that never expires)', { ...valid, exp: undefined }],
    ['an expired token', { ...valid, iat: nowSeconds - 7200, exp: nowSeconds - 3600 }],
    ['iat a day in the future', { ...valid, iat: nowSeconds + 24 * 3600, exp: nowSeconds + 24 * 3600 + 60 }],
    ['iat just beyond the stated skew', { ...valid, iat: nowSeconds + TOKEN_CLOCK_SKEW_SECONDS + 5 }],
    ['a lifetime beyond the maximum', { ...valid, exp: nowSeconds + 30 * 24 * 3600 }],
    ['no iat and an exp beyond the maximum', { ...valid, iat: undefined, exp: nowSeconds + 30 * 24 * 3600 }],
    ['sub an object', { ...valid, sub: { id: 'ana' } as unknown as string }],
    ['sub a number', { ...valid, sub: 42 as unknown as string }],
    ['sub empty', { ...valid, sub: '  ' }],
    ['no sub', { ...valid, sub: undefined }],
    ['an unknown role beside a known one', { ...valid, roles: ['worker', 'root'] }],
    ['roles not a list', { ...valid, roles: 'manager' }],
    ['no roles', { ...valid, roles: [] }],
    ['pools not a list of strings', { ...valid, pools: [1, 2] }],
  ])('refuses %s', async (_, claims) => {
    await expect(verifier.verify(await forge(claims), NOW)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('accepts an iat within the stated skew', async () => {
    await expect(verifier.verify(await forge({ ...valid, iat: nowSeconds + TOKEN_CLOCK_SKEW_SECONDS - 5 }), NOW)).resolves.toMatchObject({ sub: 'ana' });
  });

  it('refuses another secret and the none algorithm', async () => {
    await expect(verifier.verify(await forge(valid, 'another-secret-entirely'), NOW)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify(valid)).toString('base64url')}.`;
    await expect(verifier.verify(unsigned, NOW)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('checks iss and aud when configured, and only then', async () => {
    const strict = new TokenVerifier({ secret: SECRET, issuer: 'https://idp.example', audience: 'hms' });
    await expect(strict.verify(await forge({ ...valid, iss: 'https://idp.example', aud: ['hms', 'other'] }), NOW)).resolves.toMatchObject({ sub: 'ana' });
    await expect(strict.verify(await forge({ ...valid, iss: 'https://evil.example', aud: 'hms' }), NOW)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(strict.verify(await forge({ ...valid, iss: 'https://idp.example', aud: 'other' }), NOW)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(strict.verify(await forge(valid), NOW)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(verifier.verify(await forge({ ...valid, iss: 'anyone', aud: 'anything' }), NOW)).resolves.toMatchObject({ sub: 'ana' });
  });

  it('fetches keys over https only', () => {
    expect(() => new TokenVerifier({ jwksUrl: 'http://idp.example/.well-known/jwks.json' })).toThrow(/https/);
    expect(() => new TokenVerifier({ jwksUrl: 'https://idp.example/.well-known/jwks.json' })).not.toThrow();
  });
});

describe('TokenVerifier remembering verified tokens', () => {
  it('verifies a token, and again from what it remembers, with the same claims', async () => {
    const verifier = new TokenVerifier({ secret: SECRET });
    const token = await forge(valid);
    const expected = { sub: 'ana', roles: ['worker'], pools: ['desk'], expiresAt: new Date((nowSeconds + 3600) * 1000) };
    expect(await verifier.verify(token, NOW)).toEqual(expected);
    expect(await verifier.verify(token, NOW)).toEqual(expected);
  });

  it('remembers only the exact text that verified: another signature or another secret is refused', async () => {
    const verifier = new TokenVerifier({ secret: SECRET });
    const token = await forge(valid);
    await verifier.verify(token, NOW);
    const [header, payload, signature] = token.split('.');
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...valid, sub: 'boss', roles: ['manager'] })).toString('base64url')}.${signature}`;
    await expect(verifier.verify(forged, NOW)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(verifier.verify(`${header}.${payload}.${signature!.slice(0, -2)}AA`, NOW)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(verifier.verify(await forge(valid, 'another-secret-entirely'), NOW)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('refuses a remembered token once it has expired', async () => {
    const verifier = new TokenVerifier({ secret: SECRET });
    const token = await forge(valid);
    await verifier.verify(token, NOW);
    await expect(verifier.verify(token, new Date((nowSeconds + 7200) * 1000))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});
