import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HmsClient } from '@hms/client';
import { repoRoot } from '@hms/testing';
import { startE2eStack } from './support/e2e-stack';

const run = promisify(execFile);

/** The published packages of the workspace: the SDK and the seed chapters' packages over it. */
const PACKAGES = [
  { dir: 'client', tarball: 'hms-client-0.1.0.tgz' },
  { dir: 'act-client', tarball: 'hms-act-client-0.1.0.tgz' },
  { dir: 'oms-client', tarball: 'hms-oms-client-0.1.0.tgz' },
  { dir: 'ops-client', tarball: 'hms-ops-client-0.1.0.tgz' },
  { dir: 'oms-queue', tarball: 'hms-oms-queue-0.1.0.tgz' },
];

/**
 * `@hms/client` and the seed packages as someone outside the repository gets them: `npm pack`,
 * installed offline from the tarballs (theirs and commander's, the one run-time dependency outside
 * them) into a scratch project that type-checks against the declarations, as ES modules and as
 * CommonJS, and calls a real gateway.
 */
describe('the published packages', () => {
  let env: Awaited<ReturnType<typeof startE2eStack>>;
  let scratch: string;
  let app: string;
  const root = repoRoot();

  beforeAll(async () => {
    env = await startE2eStack('sdk_package');
    scratch = mkdtempSync(join(tmpdir(), 'hms-sdk-'));
    const packs = join(scratch, 'packs');
    mkdirSync(packs);
    // prepack lays out dist/ with the declarations; the workspace build has run (e2e runs dist/).
    // The seed packages' declarations import @hms/client's, so it is packed first.
    for (const { dir } of PACKAGES) await run('npm', ['pack', '--pack-destination', packs], { cwd: join(root, 'libs', dir) });
    await run('npm', ['pack', join(root, 'node_modules', 'commander'), '--pack-destination', packs]);
    const tarballs = readdirSync(packs).map((file) => join(packs, file));
    expect(tarballs.map((file) => file.slice(packs.length + 1)).sort()).toEqual(
      [expect.stringMatching(/^commander-.*\.tgz$/), ...PACKAGES.map(({ tarball }) => tarball).sort()],
    );

    app = join(scratch, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
    // Offline: the seed packages' dependency on @hms/client is met by its tarball, nothing comes from a registry.
    await run('npm', ['install', '--offline', '--no-audit', '--no-fund', ...tarballs], { cwd: app });
  });

  afterAll(async () => {
    await env?.dispose();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  /** Compiles `files` of the scratch project with tsc; no @types/node: the declarations must stand on the standard library's fetch types. */
  async function compile(project: string, files: string[]): Promise<void> {
    writeFileSync(
      join(app, project),
      JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'node16', moduleResolution: 'node16', strict: true, lib: ['ES2022', 'DOM', 'DOM.Iterable'], types: [], outDir: 'out' },
        files,
      }),
    );
    // tsc reports on stdout: a failure shows what did not compile.
    await run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(app, project)]).catch((error: { stdout?: string }) => {
      throw new Error(`the scratch project does not compile against the packages' declarations:\n${error.stdout ?? String(error)}`);
    });
  }

  it('installs @hms/client from its tarball, compiles against its types and calls the gateway from ESM, CommonJS and the hms CLI', async () => {
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
    await compile('tsconfig.json', ['main.ts', 'legacy.cts']);

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

  it('installs the seed packages from their tarballs, compiles against their types and runs a call of each against the gateway as ESM and CommonJS', async () => {
    const queue = 'sdk_seed';
    const hms = new HmsClient({ baseUrl: env.stack.gatewayUrl, token: env.stack.managerToken });
    await hms.pools.put(queue, { kind: 'bot', leaseSeconds: 120 });
    await hms.plans.register({ id: 'sdk:seed:v1', title: 'Seed package job', steps: [{ id: 'process', title: 'Process', pool: queue }] });

    // The chapters' calls (examples/seeds): start a job, peek at its queue, reserve and report it, read a live metric.
    const body = [
      'declare const process: { env: Record<string, string | undefined> };',
      'async function main(): Promise<void> {',
      "  const queue = process.env.SEED_QUEUE ?? '';",
      "  const ticket: JobTicket = await ActClient.startJob({ jobType: 'sdk:seed:v1', payload: { appId: 219 }, slaMinutes: 10 });",
      '  const job: ReservedJob | null = await reserve(queue, { waitSeconds: 20, headers: { Authorization: `Bearer ${process.env.SEED_WORKER_TOKEN}` } });',
      "  await job?.report('done');",
      '  const peek: QueuePeek = await OmsClient.peek(queue);',
      '  const metric = await new Promise<Metric>((resolve) => {',
      '    const stream = OpsClient.stream(queue, (reading) => {',
      '      stream.stop();',
      '      resolve(reading);',
      '    });',
      '  });',
      '  console.log(JSON.stringify({ reserved: job?.jobId === ticket.jobId, payload: job?.payload, peeked: peek.queue, metricQueue: metric.queue }));',
      '}',
      'main();',
    ];
    writeFileSync(
      join(app, 'seeds.ts'),
      [
        "import { ActClient, type JobTicket } from '@hms-act/client';",
        "import { OmsClient, type QueuePeek } from '@hms-oms/client';",
        "import { OpsClient, type Metric } from '@hms-ops/client';",
        "import { reserve, type ReservedJob } from '@hms-oms/queue';",
        ...body,
      ].join('\n'),
    );
    writeFileSync(
      join(app, 'seeds-legacy.cts'),
      [
        "import act = require('@hms-act/client');",
        "import oms = require('@hms-oms/client');",
        "import ops = require('@hms-ops/client');",
        "import omsQueue = require('@hms-oms/queue');",
        'const { ActClient } = act;',
        'const { OmsClient } = oms;',
        'const { OpsClient } = ops;',
        'const { reserve } = omsQueue;',
        'type JobTicket = act.JobTicket;',
        'type QueuePeek = oms.QueuePeek;',
        'type Metric = ops.Metric;',
        'type ReservedJob = omsQueue.ReservedJob;',
        ...body,
      ].join('\n'),
    );
    await compile('seeds.tsconfig.json', ['seeds.ts', 'seeds-legacy.cts']);

    const seedEnv = {
      ...process.env,
      HMS_URL: env.stack.gatewayUrl,
      HMS_TOKEN: env.stack.managerToken,
      SEED_QUEUE: queue,
      SEED_WORKER_TOKEN: await env.stack.workerToken([queue], 'seed-bot'),
    };
    const expected = { reserved: true, payload: { appId: 219 }, peeked: queue, metricQueue: queue };
    expect(JSON.parse((await run(process.execPath, [join(app, 'out', 'seeds.js')], { env: seedEnv })).stdout)).toEqual(expected);
    expect(JSON.parse((await run(process.execPath, [join(app, 'out', 'seeds-legacy.cjs')], { env: seedEnv })).stdout)).toEqual(expected);
  });
});
