import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '@hms/testing';
import { startE2eStack } from './support/e2e-stack';

const run = promisify(execFile);

/**
 * `@hms/client` as someone outside the repository gets it: `npm pack`, installed offline from the
 * tarballs (its own and commander's, its one run-time dependency) into a scratch project that
 * type-checks against the declarations, as an ES module and as CommonJS, and calls a real gateway.
 */
describe('the @hms/client package', () => {
  let env: Awaited<ReturnType<typeof startE2eStack>>;
  let scratch: string;

  beforeAll(async () => {
    env = await startE2eStack('sdk_package');
    scratch = mkdtempSync(join(tmpdir(), 'hms-sdk-'));
  });

  afterAll(async () => {
    await env?.dispose();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('installs from its tarball, compiles against its types and calls the gateway from ESM, CommonJS and the hms CLI', async () => {
    const root = repoRoot();
    const packs = join(scratch, 'packs');
    mkdirSync(packs);
    // prepack lays out dist/ with the declarations; the workspace build has run (e2e runs dist/).
    await run('npm', ['pack', '--pack-destination', packs], { cwd: join(root, 'libs', 'client') });
    await run('npm', ['pack', join(root, 'node_modules', 'commander'), '--pack-destination', packs]);
    const tarballs = readdirSync(packs).map((file) => join(packs, file));
    expect(tarballs.map((file) => file.slice(packs.length + 1)).sort()).toEqual([expect.stringMatching(/^commander-.*\.tgz$/), 'hms-client-0.1.0.tgz']);

    const app = join(scratch, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
    await run('npm', ['install', '--offline', '--no-audit', '--no-fund', ...tarballs], { cwd: app });

    writeFileSync(
      join(app, 'main.ts'),
      [
        "import { HmsClient, HmsApiError, type PoolMetrics } from '@hms/client';",
        'declare const process: { env: Record<string, string | undefined> };',
        "const hms = new HmsClient({ baseUrl: process.env.HMS_URL ?? '', token: process.env.HMS_TOKEN, retry: { maxRetries: 1 } });",
        "const pool = await hms.pools.put('sdk_scratch', { kind: 'bot', leaseSeconds: 120 });",
        'const snapshots: PoolMetrics[] = (await hms.metrics.pools()).pools;',
        "const missing = await hms.requests.get('00000000-0000-4000-8000-000000000000').catch((error: unknown) => error);",
        'console.log(JSON.stringify({ pool: pool.pool, leaseSeconds: pool.leaseSeconds, snapshots: Array.isArray(snapshots), missing: missing instanceof HmsApiError ? missing.code : String(missing) }));',
      ].join('\n'),
    );
    writeFileSync(
      join(app, 'legacy.cts'),
      [
        "import client = require('@hms/client');",
        'declare const process: { env: Record<string, string | undefined> };',
        "const hms: client.HmsClient = new client.HmsClient({ baseUrl: process.env.HMS_URL ?? '', token: process.env.HMS_TOKEN });",
        "hms.pools.get('sdk_scratch').then((pool) => console.log(JSON.stringify({ kind: pool.kind })));",
      ].join('\n'),
    );
    // No @types/node: the declarations must stand on the standard library's fetch types.
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'node16', moduleResolution: 'node16', strict: true, lib: ['ES2022', 'DOM', 'DOM.Iterable'], types: [], outDir: 'out' },
        files: ['main.ts', 'legacy.cts'],
      }),
    );
    // tsc reports on stdout: a failure shows what did not compile.
    await run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app]).catch((error: { stdout?: string }) => {
      throw new Error(`the scratch project does not compile against the package's declarations:\n${error.stdout ?? String(error)}`);
    });

    const stackEnv = { ...process.env, HMS_URL: env.stack.gatewayUrl, HMS_TOKEN: env.stack.managerToken };
    const esm = await run(process.execPath, [join(app, 'out', 'main.js')], { env: stackEnv });
    expect(JSON.parse(esm.stdout)).toEqual({ pool: 'sdk_scratch', leaseSeconds: 120, snapshots: true, missing: 'NOT_FOUND' });
    const cjs = await run(process.execPath, [join(app, 'out', 'legacy.cjs')], { env: stackEnv });
    expect(JSON.parse(cjs.stdout)).toEqual({ kind: 'bot' });

    const hms = join(app, 'node_modules', '.bin', 'hms');
    expect((await run(hms, ['--version'])).stdout).toBe('0.1.0\n');
    const pools = await run(hms, ['pool', 'get', 'sdk_scratch'], { env: stackEnv });
    expect(JSON.parse(pools.stdout)).toMatchObject({ pool: 'sdk_scratch', kind: 'bot', leaseSeconds: 120 });
  });
});
