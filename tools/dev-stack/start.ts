/**
 * `npm start`: the whole system on one machine. Postgres and NATS come from DATABASE_URL /
 * NATS_URL, or are started here (embedded Postgres with data under .hms/, and a nats-server
 * child with JetStream); then act, oms, ops and the gateway start as four processes, each
 * restarted with backoff if it exits (ServiceSupervisor).
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generatedNatsAuthSpec, inboxPrefixOf } from '@hms/platform';
import { ensureServiceRole, NatsServerMissingError, repoRoot, startInfra, startStack, type Infra, type Stack } from '@hms/testing';

/** The NATS user of the dev stack for trying a bot over NATS (docs/security.md "NATS"). */
const DEV_BOT_USER = 'bot';

const EXAMPLE_WORKER_POOLS = ['hud_case_workers', 'fema_inspectors', 'payments'];

async function main(): Promise<void> {
  const root = repoRoot();
  const started = Date.now();
  const jwtSecret = process.env.HMS_JWT_SECRET;
  const secret = jwtSecret ?? randomBytes(32).toString('hex');
  const subjectPrefix = process.env.HMS_SUBJECT_PREFIX ?? '';
  // The nats-server started here has a user per service and one bot, as a deployment has; a
  // NATS_URL server is taken as it is configured.
  const natsAuth = process.env.NATS_URL ? undefined : generatedNatsAuthSpec(subjectPrefix, [DEV_BOT_USER]);
  log('starting Postgres and NATS…');
  let infra: Infra;
  try {
    infra = await startInfra({
      dataDir: join(root, '.hms', 'postgres'),
      persistent: true,
      databaseUrl: process.env.DATABASE_URL,
      natsUrl: process.env.NATS_URL,
      databaseName: 'hms',
      natsAuth,
    });
  } catch (error) {
    if (error instanceof NatsServerMissingError) {
      log(`\n${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  let stack: Stack | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    log('stopping…');
    await stack?.stop();
    await infra.stop();
    log('stopped');
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  try {
    log('starting act, oms, ops and api-gateway…');
    // On the embedded server the services work as a role of their own and migrate as the owner,
    // as production must; servers named by DATABASE_URL are used as given (DATABASE_MIGRATION_URL too).
    const serviceDatabaseUrl = infra.embedded.postgres ? await ensureServiceRole(infra.databaseUrl, 'hms') : infra.databaseUrl;
    stack = await startStack({
      databaseUrl: serviceDatabaseUrl,
      ...(infra.embedded.postgres ? { migrationDatabaseUrl: infra.databaseUrl } : {}),
      natsUrl: infra.natsUrl,
      subjectPrefix,
      jwtSecret: secret,
      natsAuth,
      gatewayPort: Number(process.env.PORT ?? 3000),
      env: {
        HMS_PLANS_DIR: process.env.HMS_PLANS_DIR ?? join(root, 'examples', 'plans'),
        LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
        ACT_LEDGER_CHECKPOINT_DIR: process.env.ACT_LEDGER_CHECKPOINT_DIR ?? join(root, '.hms', 'checkpoints'),
        ACT_LEDGER_CHECKPOINT_KEY: process.env.ACT_LEDGER_CHECKPOINT_KEY ?? devCheckpointKey(join(root, '.hms', 'ledger-checkpoint-key.pem')),
      },
      onOutput: (name, text) => {
        for (const line of text.split('\n').filter(Boolean)) process.stdout.write(`[${name}] ${line}\n`);
      },
      supervise: { log },
    });
  } catch (error) {
    log(`failed to start: ${(error as Error).message.trim()}`);
    await stop(1);
    return;
  }
  const workerToken = await stack.workerToken(EXAMPLE_WORKER_POOLS, 'worker@hms');
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  process.stdout.write(
    [
      '',
      `HMS Management Layer is up (${seconds} s).`,
      `  Gateway:    ${stack.gatewayUrl}`,
      `  Dashboard:  ${stack.gatewayUrl}/dashboard (paste the manager token below)`,
      `  API docs:   ${stack.gatewayUrl}/docs`,
      `  Postgres:   ${redact(infra.databaseUrl)}${infra.postgresDataDir ? ` (embedded, data in ${infra.postgresDataDir})` : ''}`,
      `  NATS:       ${infra.natsUrl}${infra.embedded.nats ? ' (nats-server child process, JetStream)' : ''}`,
      ...(natsAuth
        ? [`  NATS bot:   user ${natsAuth.bots[0]!.user}, password ${natsAuth.bots[0]!.password}, inbox prefix ${inboxPrefixOf(DEV_BOT_USER)} (send its token in the hms-token header)`]
        : []),
      `  Services:   ${Object.values(stack.services).map((s) => `${s.name} ${s.url}`).join(', ')}`,
      jwtSecret ? '  JWT secret: from HMS_JWT_SECRET' : `  JWT secret: none was set (HMS_JWT_SECRET), so a random one was made for this run: ${secret}`,
      '',
      `  Manager token: ${stack.managerToken}`,
      `  Worker token (pools ${EXAMPLE_WORKER_POOLS.join(', ')}): ${workerToken}`,
      '',
      `  Try: curl -H "Authorization: Bearer $MANAGER_TOKEN" ${stack.gatewayUrl}/v1/plans`,
      '  Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
}

/** The dev stack's checkpoint signing key: made once, kept with the dev data (so its checkpoints keep verifying). */
function devCheckpointKey(path: string): string {
  if (!existsSync(path)) {
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
  }
  return path;
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]+@/, '//$1:***@');
}

function log(message: string): void {
  process.stdout.write(`[hms] ${message}\n`);
}

// A launcher failure (no free port, initdb refused, a folder it cannot write) is the machine's,
// not a bug of ours: its message says what, a stack would not help.
main().catch((error: Error) => {
  process.stderr.write(`[hms] failed: ${error.message}\n`);
  process.exit(1);
});
