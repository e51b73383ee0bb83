import Module from 'node:module';
import { join } from 'node:path';

/**
 * Jest's global setup for the integration and e2e projects: the run's NATS is a nats-server with
 * the deployment's users and permissions (docs/testing.md "NATS"), never a server without users.
 * `npm test` starts it itself and passes it on (HMS_TEST_NATS_URL, HMS_TEST_NATS_AUTH); a plain
 * `npx jest` run gets one here, stopped by the global teardown.
 */
export default async function natsGlobalSetup(): Promise<void> {
  if (process.env.HMS_TEST_NATS_URL && process.env.HMS_TEST_NATS_AUTH) return;
  const { startNatsServer, testRunNatsAuth, TEST_NATS_AUTH_VARIABLE } = withWorkspaceSources(() => require('../index') as typeof import('../index'));
  const auth = testRunNatsAuth();
  const nats = await startNatsServer({ bin: process.env.NATS_SERVER_BIN, auth });
  // Workers start after the global setup and inherit this environment.
  process.env.HMS_TEST_NATS_URL = nats.url;
  process.env[TEST_NATS_AUTH_VARIABLE] = JSON.stringify(auth);
  (globalThis as { hmsTestNats?: { stop(): Promise<void> } }).hmsTestNats = nats;
}

/**
 * Jest loads a global setup outside its module registry, so jest.config's moduleNameMapper does
 * not apply and `@hms/*` would resolve to the compiled dist/ (absent before a build): resolve
 * them to their sources, as the tests do, while this module loads.
 */
function withWorkspaceSources<T>(load: () => T): T {
  const loader = Module as unknown as { _resolveFilename(request: string, ...rest: unknown[]): string };
  const resolve = loader._resolveFilename;
  const libs = join(__dirname, '..', '..', '..');
  loader._resolveFilename = function (request, ...rest) {
    const workspace = /^@hms\/(contracts|platform|testing)$/.exec(request);
    return resolve.call(this, workspace ? join(libs, workspace[1]!, 'src', 'index.ts') : request, ...rest);
  };
  try {
    return load();
  } finally {
    loader._resolveFilename = resolve;
  }
}
