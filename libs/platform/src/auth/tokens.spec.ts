import { signToken, TokenVerifier } from './tokens';

describe('TokenVerifier', () => {
  const secret = 'a-test-secret-of-some-length';

  it('verifies a token, and again from what it remembers, with the same claims', async () => {
    const verifier = new TokenVerifier({ secret });
    const token = await signToken({ sub: 'bot@hms', roles: ['service'] }, secret);
    expect(await verifier.verify(token)).toEqual({ sub: 'bot@hms', roles: ['service'] });
    expect(await verifier.verify(token)).toEqual({ sub: 'bot@hms', roles: ['service'] });
  });

  it('remembers only the exact text that verified: another signature, another secret or an expired token is refused', async () => {
    const verifier = new TokenVerifier({ secret });
    const token = await signToken({ sub: 'bot@hms', roles: ['service'] }, secret);
    await verifier.verify(token);
    const [header, payload, signature] = token.split('.');
    const forged = `${header}.${Buffer.from(JSON.stringify({ sub: 'boss@hms', roles: ['manager'], exp: 9_999_999_999 })).toString('base64url')}.${signature}`;
    await expect(verifier.verify(forged)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(verifier.verify(`${header}.${payload}.${signature!.slice(0, -2)}AA`)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(verifier.verify(await signToken({ sub: 'bot@hms', roles: ['service'] }, 'another-secret-entirely'))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(verifier.verify(await signToken({ sub: 'bot@hms', roles: ['service'] }, secret, -10))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('refuses every token when no secret is configured', async () => {
    const verifier = new TokenVerifier({});
    await expect(verifier.verify(await signToken({ sub: 'bot@hms', roles: ['service'] }, 'x'))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});
