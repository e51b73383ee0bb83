// TokenVerifier and signToken come from @hms/platform, which uses `jose` (ESM only). Jest can
// load it only when jest.config.js lists 'jose' among the packages swc compiles to CommonJS.
import { TokenVerifier } from '@hms/platform';
import { buildCli } from './cli';
import { runHms as hms } from './testing/cli-harness';

describe(`${buildCli.name} token`, () => {
  it('prints an HS256 token that TokenVerifier accepts with the same secret when --secret is given', async () => {
    const run = await hms(['token', '--role', 'worker', '--pools', 'a, b', '--sub', 'alice', '--secret', 's3cret-value']);
    expect(run).toMatchObject({ exitCode: 0, stderr: '' });
    const token = run.stdout.trim();
    await expect(new TokenVerifier({ secret: 's3cret-value' }).verify(token)).resolves.toEqual({ sub: 'alice', roles: ['worker'], pools: ['a', 'b'], expiresAt: expect.any(Date) });
    await expect(new TokenVerifier({ secret: 'other' }).verify(token)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('signs with HMS_JWT_SECRET and a default subject when no --secret is given', async () => {
    const run = await hms(['token', '--role', 'manager', '--ttl', '3600'], { env: { HMS_JWT_SECRET: 'from-env' } });
    expect(run.exitCode).toBe(0);
    await expect(new TokenVerifier({ secret: 'from-env' }).verify(run.stdout.trim())).resolves.toEqual({ sub: 'cli-manager', roles: ['manager'], expiresAt: expect.any(Date) });
  });
});
