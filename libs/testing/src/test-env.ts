import { randomBytes } from 'node:crypto';
import { createDatabase, dropDatabase, ensureServiceRole } from './infra';
import { uniqueSubjectPrefix } from './stack';

/**
 * The Postgres and NATS of this test run. The test runner (tools/test) starts them once and
 * passes them in the environment; a test never starts its own. NATS is always the run's own
 * nats-server with the deployment's users (the runner's, or Jest's global setup's), never
 * NATS_URL: a server without users would let every test pass without its door.
 */
export function testInfra(): { serverUrl: string; natsUrl: string } {
  const serverUrl = process.env.HMS_TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  const natsUrl = process.env.HMS_TEST_NATS_URL;
  if (!serverUrl || !natsUrl) {
    throw new Error('No test infrastructure: run the suite with `npm test` (it starts Postgres and NATS), or `npx jest` with DATABASE_URL set (its global setup starts NATS).');
  }
  return { serverUrl, natsUrl };
}

/**
 * A fresh, empty database for one test file, and a subject prefix of its own. `databaseUrl` is
 * the owner's (migrations, and tests that play an attacker with superuser rights);
 * `serviceDatabaseUrl` is the role services work as.
 */
export async function freshTestEnvironment(label: string): Promise<{
  databaseUrl: string;
  serviceDatabaseUrl: string;
  natsUrl: string;
  subjectPrefix: string;
  serverUrl: string;
  dispose(): Promise<void>;
}> {
  const { serverUrl, natsUrl } = testInfra();
  const name = `hms_${label.replace(/\W/g, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  const databaseUrl = await createDatabase(serverUrl, name);
  return {
    databaseUrl,
    serviceDatabaseUrl: await ensureServiceRole(serverUrl, name),
    natsUrl,
    serverUrl,
    subjectPrefix: uniqueSubjectPrefix(),
    dispose: () => dropDatabase(serverUrl, name),
  };
}
