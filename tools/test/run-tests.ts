/**
 * `npm test`: starts Postgres and NATS once for the run (Postgres embedded unless DATABASE_URL
 * names a server; NATS always a nats-server with the deployment's users), then runs Jest: unit and
 * integration tests in parallel workers, end-to-end tests one file at a time (each starts the four
 * services as processes). Ends with the plain line
 * `N passed, N failed` so any CI can read the result.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, startInfra, TEST_NATS_AUTH_VARIABLE, testRunNatsAuth } from '@hms/testing';

interface JestSummary {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTotalTestSuites: number;
  numFailedTestSuites: number;
  numRuntimeErrorTestSuites: number;
}

function runJest(args: string[], env: NodeJS.ProcessEnv, outputFile: string): Promise<{ code: number; summary?: JestSummary }> {
  const root = repoRoot();
  const jestBin = require.resolve('jest/bin/jest', { paths: [root] });
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [jestBin, '--ci', '--json', `--outputFile=${outputFile}`, ...args], { cwd: root, env, stdio: 'inherit' });
    child.on('exit', (code) => {
      let summary: JestSummary | undefined;
      try {
        summary = JSON.parse(readFileSync(outputFile, 'utf8')) as JestSummary;
      } catch {
        summary = undefined;
      }
      resolve({ code: code ?? 1, summary });
    });
  });
}

async function main(): Promise<number> {
  const passthrough = process.argv.slice(2);
  const scratch = mkdtempSync(join(tmpdir(), 'hms-test-'));
  const started = Date.now();
  // NATS is always a nats-server of the run's own with the deployment's users and permissions:
  // a NATS_URL server (the machine's, a CI service) has none, and every test would pass
  // without NATS's door. Its users reach the test files in HMS_TEST_NATS_AUTH.
  const natsAuth = testRunNatsAuth();
  const infra = await startInfra({
    dataDir: join(scratch, 'postgres'),
    persistent: false,
    databaseUrl: process.env.DATABASE_URL,
    natsAuth,
  });
  process.stdout.write(
    `[test] Postgres ${infra.embedded.postgres ? '(embedded)' : '(DATABASE_URL)'}, NATS (nats-server child with users${process.env.NATS_URL ? '; NATS_URL is not used' : ''}) ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
  const env = {
    ...process.env,
    HMS_TEST_DATABASE_URL: infra.databaseUrl,
    HMS_TEST_NATS_URL: infra.natsUrl,
    [TEST_NATS_AUTH_VARIABLE]: JSON.stringify(natsAuth),
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
  };
  const results: Array<{ code: number; summary?: JestSummary }> = [];
  try {
    results.push(await runJest(['--selectProjects', 'unit', 'integration', '--maxWorkers=2', ...passthrough], env, join(scratch, 'fast.json')));
    results.push(await runJest(['--selectProjects', 'e2e', '--runInBand', ...passthrough], env, join(scratch, 'e2e.json')));
  } finally {
    await infra.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
  const passed = results.reduce((sum, r) => sum + (r.summary?.numPassedTests ?? 0), 0);
  const failed = results.reduce((sum, r) => sum + (r.summary?.numFailedTests ?? 0), 0);
  const skipped = results.reduce((sum, r) => sum + (r.summary?.numPendingTests ?? 0), 0);
  const brokenSuites = results.reduce((sum, r) => sum + (r.summary ? r.summary.numRuntimeErrorTestSuites : 1), 0);
  const ok = results.every((r) => r.code === 0) && failed === 0 && brokenSuites === 0 && passed > 0;
  process.stdout.write(`\n[test] finished in ${((Date.now() - started) / 1000).toFixed(0)} s${brokenSuites ? `, ${brokenSuites} suite(s) could not run` : ''}\n`);
  process.stdout.write(`${passed} passed, ${failed + brokenSuites} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    process.stderr.write(`[test] ${error.stack ?? error.message}\n`);
    process.stdout.write('0 passed, 1 failed\n');
    process.exit(1);
  },
);
