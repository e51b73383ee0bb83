import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HmsClient, Pool, type WorkItem } from '@hms/client';
import type { LedgerEntryView } from '@hms/contracts';
import type { NatsBus } from '@hms/platform';
import { connectTestBus, freshTestEnvironment, repoRoot, startStack, testNatsAuth, type ServiceProcessName, type Stack, type TestNatsUser } from '@hms/testing';

/**
 * A stack of four real service processes on a fresh database, for one e2e file. The services run
 * as their own users of the run's NATS (or of `env.NATS_URL`, a server of the test's own started
 * with `testNatsAuth()`), and sign actor headers with a key of this stack.
 */
export async function startE2eStack(
  label: string,
  env: Record<string, string> = {},
): Promise<{
  stack: Stack;
  manager: HmsClient;
  databaseUrl: string;
  natsUrl: string;
  /** The environment one of the stack's services runs with, e.g. to start another replica of it. */
  serviceEnv(name: ServiceProcessName): Record<string, string>;
  /**
   * A bus on the stack's NATS and prefix as one of the run's users: an app (the gateway, a
   * service) signs its actor headers with the stack's key; the bot does not, and is believed only
   * as far as its `hms-token` says.
   */
  connectAs(who: TestNatsUser, name: string): Promise<NatsBus>;
  dispose(): Promise<void>;
}> {
  const environment = await freshTestEnvironment(label);
  if (env.NATS_URL) environment.natsUrl = env.NATS_URL;
  // The suites drive many workers from one token as fast as they can; the rate limits are tested
  // on their own (trust-edge.e2e-spec.ts), so here they are set far above what a suite makes.
  const extraEnv = { OMS_LEASE_SWEEP_MS: '200', GATEWAY_RATE_LIMIT_PER_TOKEN: '1000000', GATEWAY_RATE_LIMIT_PER_ADDRESS: '1000000', ...env };
  const stack = await startStack({
    databaseUrl: environment.serviceDatabaseUrl,
    migrationDatabaseUrl: environment.databaseUrl,
    natsUrl: environment.natsUrl,
    subjectPrefix: environment.subjectPrefix,
    env: extraEnv,
    natsAuth: testNatsAuth(),
  }).catch(async (error) => {
    await environment.dispose();
    throw error;
  });
  return {
    stack,
    manager: new HmsClient({ baseUrl: stack.gatewayUrl, token: stack.managerToken }),
    databaseUrl: environment.databaseUrl,
    natsUrl: environment.natsUrl,
    serviceEnv: (name) => stack.serviceEnvOf(name),
    connectAs: (who, name) => connectTestBus(environment.natsUrl, stack.subjectPrefix, name, who, who === 'bot' ? undefined : stack.actorKey),
    async dispose() {
      await stack.stop();
      await environment.dispose();
    },
  };
}

export function examplePlan(file: string): string {
  return readFileSync(join(repoRoot(), 'examples', 'plans', file), 'utf8');
}

/** What one worker did, by task id. */
export interface WorkLog {
  worker: string;
  completed: string[];
}

/**
 * A worker that long-polls its pool and completes every task it gets with `output`, until
 * `until()` says stop. Transient gateway errors (a service restarting) are retried, as a real
 * worker would.
 */
export async function workPool(options: {
  client: HmsClient;
  pool: string;
  worker: string;
  tags?: string[];
  output: (task: WorkItem) => Record<string, unknown>;
  until: () => boolean;
  log?: WorkLog;
}): Promise<WorkLog> {
  const log = options.log ?? { worker: options.worker, completed: [] };
  const worker = new Pool(options.pool, options.client).login(options.worker, { tags: options.tags });
  while (!options.until()) {
    try {
      const task = await worker.nextTask({ waitSeconds: 2 });
      if (!task) continue;
      await task.complete(options.output(task));
      log.completed.push(task.id);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code !== 'UNAVAILABLE' && code !== 'LEASE_LOST') throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  return log;
}

/**
 * A request's whole ledger, read again until it holds an entry of `type` (or `timeoutMs` passed;
 * the caller's assertions then say what is missing). The ledger follows the event stream: ACT's
 * own events, such as `act.request.completed`, reach it through ACT's outbox and JetStream some
 * milliseconds after the request itself shows the change.
 */
export async function ledgerThrough(manager: HmsClient, id: string, type: string, timeoutMs = 10_000): Promise<LedgerEntryView[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const history: LedgerEntryView[] = [];
    for await (const entry of manager.requests.historyAll(id)) history.push(entry);
    if (history.some((entry) => entry.type === type) || Date.now() > deadline) return history;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Polls `probe` every 200 ms until it returns something truthy, and returns that; fails after `timeoutMs`. */
export async function waitUntil<T>(probe: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
