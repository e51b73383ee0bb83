import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { signToken, type BackoffPolicy, type NatsAuthSpec } from '@hms/platform';
import { freePort } from './infra';
import { ServiceSupervisor } from './supervisor';
import { newActorKey, serviceNatsEnv } from './test-nats';

/** The four services, in start order. */
export const SERVICE_NAMES = ['act', 'oms', 'ops', 'api-gateway'] as const;
export type ServiceProcessName = (typeof SERVICE_NAMES)[number];

/** The repository root (where `dist/` is), found from this file in src or dist. */
export function repoRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'nx.json'))) {
    const parent = resolve(dir, '..');
    if (parent === dir) throw new Error('cannot find the repository root (nx.json)');
    dir = parent;
  }
  return dir;
}

/** A random subject prefix, so parallel runs on one NATS never see each other's messages. */
export function uniqueSubjectPrefix(label = 't'): string {
  return `${label}${randomBytes(4).toString('hex')}.`;
}

/** How a service process ended. */
export interface ServiceExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when stop()/kill() asked for it. */
  requested: boolean;
  /** How long the process had run. */
  ranForMs: number;
  /** What it last wrote to stderr that says why ({@link lastErrorLine}; empty if nothing). */
  lastError: string;
}

/**
 * The line of a process's stderr worth showing as the reason it ended: the last error heading
 * (`TypeError: …`) if there is one, else the last line that is not a stack frame or Node's footer.
 */
export function lastErrorLine(text: string): string {
  const lines = text.split('\n').map((line) => line.trim()).filter((line) => line && !/^at\s/.test(line) && !/^Node\.js v\d/.test(line) && line !== '^');
  const line = lines.findLast((candidate) => /^(?:[A-Z]\w*)?(?:Error|Exception)\b/.test(candidate)) ?? lines.at(-1) ?? '';
  return fatalLogMessage(line) ?? line;
}

/** `msg: err` of a JSON log line (a service's `failed to start`), without its stack. */
function fatalLogMessage(line: string): string | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const { msg, err } = JSON.parse(line) as { msg?: unknown; err?: unknown };
    return typeof msg === 'string' ? [msg, typeof err === 'string' ? err : undefined].filter(Boolean).join(': ') : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One service as a real OS process (`node dist/apps/<name>/src/main.js`): can be killed with
 * SIGKILL and started again with the same environment, as the fault tests do.
 */
export class ServiceProcess {
  private child?: ChildProcess;
  private output: string[] = [];
  private stderrTail = '';
  private exitPromise?: Promise<number | null>;
  private stopRequested = false;
  private readonly exitListeners: Array<(exit: ServiceExit) => void> = [];

  constructor(
    readonly name: ServiceProcessName,
    readonly port: number,
    private readonly env: Record<string, string>,
    private readonly onOutput?: (name: string, line: string) => void,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The OS process id while running. */
  get pid(): number | undefined {
    return this.running ? this.child!.pid : undefined;
  }

  /** The last lines the process printed (for failure messages). */
  recentOutput(lines = 40): string {
    return this.output.slice(-lines).join('');
  }

  /** Called each time the process ends, asked to or not (a supervisor restarts it when not). */
  onExit(listener: (exit: ServiceExit) => void): void {
    this.exitListeners.push(listener);
  }

  async start(timeoutMs = 60_000): Promise<void> {
    const main = join(repoRoot(), 'dist', 'apps', this.name, 'src', 'main.js');
    if (!existsSync(main)) throw new Error(`${main} is missing: run 'npm run build' first`);
    const child = spawn(process.execPath, [main], {
      env: { ...process.env, ...this.env, PORT: String(this.port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.stopRequested = false;
    this.stderrTail = '';
    const startedAt = Date.now();
    const collect = (chunk: Buffer) => {
      const text = chunk.toString();
      this.output.push(text);
      if (this.output.length > 500) this.output.splice(0, 250);
      this.onOutput?.(this.name, text);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString()).slice(-4000);
      collect(chunk);
    });
    this.exitPromise = new Promise((resolvePromise) =>
      child.once('exit', (code, signal) => {
        const exit: ServiceExit = { code, signal, requested: this.stopRequested, ranForMs: Date.now() - startedAt, lastError: lastErrorLine(this.stderrTail) };
        resolvePromise(code);
        for (const listener of this.exitListeners) listener(exit);
      }),
    );
    await this.waitUntilReady(timeoutMs);
  }

  private async waitUntilReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`${this.name} exited during start:\n${this.recentOutput()}`);
      const ready = await fetch(`${this.url}/health/ready`).then(
        (response) => response.ok,
        () => false,
      );
      if (ready) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${this.name} was not ready after ${timeoutMs} ms:\n${this.recentOutput()}`);
  }

  /** Sends a signal and waits for the process to end. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<void> {
    if (!this.running) return;
    this.stopRequested = true;
    this.child!.kill(signal);
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), timeoutMs);
    await this.exitPromise;
    clearTimeout(timer);
  }

  kill(): Promise<void> {
    return this.stop('SIGKILL');
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}

export interface StackOptions {
  /** The role the services work as. */
  databaseUrl: string;
  /** The schema owner's, for migrations; `databaseUrl` when absent. */
  migrationDatabaseUrl?: string;
  natsUrl: string;
  subjectPrefix?: string;
  jwtSecret?: string;
  /** Port of the gateway; a free one when absent. */
  gatewayPort?: number;
  /**
   * The users of a NATS server started with these users and permissions: each service then
   * connects as its own user and signs actor headers with a key made for the stack.
   */
  natsAuth?: NatsAuthSpec;
  /**
   * Extra environment for every service (e.g. OMS_LEASE_SWEEP_MS). Without
   * ACT_LEDGER_CHECKPOINT_DIR / _KEY, a temporary folder (removed at stop) and a fresh key are used.
   */
  env?: Record<string, string>;
  onOutput?: (name: string, line: string) => void;
  /** Restart a service whose process ends unasked ({@link ServiceSupervisor}), saying why in `log`. */
  supervise?: { log: (line: string) => void; policy?: BackoffPolicy };
}

/** The whole system as four processes, plus tokens to call it with. */
export interface Stack {
  gatewayUrl: string;
  jwtSecret: string;
  subjectPrefix: string;
  services: Record<ServiceProcessName, ServiceProcess>;
  /** Present when started with `supervise`. */
  supervisors?: Record<ServiceProcessName, ServiceSupervisor>;
  /** The environment every service runs with (without PORT and NATS user). */
  serviceEnv: Record<string, string>;
  /** The whole environment of one service (without PORT), e.g. to start another replica of it. */
  serviceEnvOf(name: ServiceProcessName): Record<string, string>;
  managerToken: string;
  workerToken(pools: string[], sub?: string): Promise<string>;
  serviceToken: string;
  /** The key the services sign actor headers with, when their NATS has users. */
  actorKey?: string;
  stop(): Promise<void>;
}

/** Starts act, oms, ops and the gateway as separate processes and waits until all are ready. */
export async function startStack(options: StackOptions): Promise<Stack> {
  const jwtSecret = options.jwtSecret ?? randomBytes(24).toString('hex');
  const subjectPrefix = options.subjectPrefix ?? uniqueSubjectPrefix();
  const checkpointDir = options.env?.ACT_LEDGER_CHECKPOINT_DIR ? undefined : mkdtempSync(join(tmpdir(), 'hms-checkpoints-'));
  const env: Record<string, string> = {
    DATABASE_URL: options.databaseUrl,
    ...(options.migrationDatabaseUrl ? { DATABASE_MIGRATION_URL: options.migrationDatabaseUrl } : {}),
    ...(checkpointDir ? { ACT_LEDGER_CHECKPOINT_DIR: checkpointDir } : {}),
    ...(options.env?.ACT_LEDGER_CHECKPOINT_KEY ? {} : { ACT_LEDGER_CHECKPOINT_KEY: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() }),
    NATS_URL: options.natsUrl,
    HMS_SUBJECT_PREFIX: subjectPrefix,
    HMS_JWT_SECRET: jwtSecret,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    ...options.env,
  };
  const actorKey = options.natsAuth ? newActorKey() : undefined;
  const serviceEnvOf = (name: ServiceProcessName) => ({ ...natsUserEnv(options.natsAuth, name, actorKey), ...env });
  const services = {} as Record<ServiceProcessName, ServiceProcess>;
  for (const name of SERVICE_NAMES) {
    const port = name === 'api-gateway' && options.gatewayPort !== undefined ? options.gatewayPort : await freePort();
    services[name] = new ServiceProcess(name, port, serviceEnvOf(name), options.onOutput);
  }
  let supervisors: Record<ServiceProcessName, ServiceSupervisor> | undefined;
  const stopAll = async () => {
    for (const supervisor of Object.values(supervisors ?? {})) supervisor.halt();
    for (const name of [...SERVICE_NAMES].reverse()) await (supervisors?.[name] ?? services[name]).stop();
    if (checkpointDir) rmSync(checkpointDir, { recursive: true, force: true });
  };
  try {
    // The three back-end services migrate their own schemas; they can start side by side.
    await Promise.all((['act', 'oms', 'ops'] as const).map((name) => services[name].start()));
    await services['api-gateway'].start();
  } catch (error) {
    await stopAll();
    throw error;
  }
  const supervise = options.supervise;
  if (supervise) {
    supervisors = Object.fromEntries(SERVICE_NAMES.map((name) => [name, new ServiceSupervisor(services[name], supervise.log, supervise.policy)])) as Record<ServiceProcessName, ServiceSupervisor>;
  }
  return {
    gatewayUrl: services['api-gateway'].url,
    jwtSecret,
    subjectPrefix,
    services,
    supervisors,
    serviceEnv: env,
    serviceEnvOf,
    managerToken: await signToken({ sub: 'manager@hms', roles: ['manager'] }, jwtSecret),
    serviceToken: await signToken({ sub: 'service@hms', roles: ['service'] }, jwtSecret),
    workerToken: (pools, sub = 'worker@hms') => signToken({ sub, roles: ['worker'], pools }, jwtSecret),
    ...(actorKey ? { actorKey } : {}),
    stop: stopAll,
  };
}

/** The NATS user and actor key of one service of a stack whose NATS has users. */
export function natsUserEnv(auth: NatsAuthSpec | undefined, name: ServiceProcessName, actorKey: string | undefined): Record<string, string> {
  if (!auth || !actorKey) return {};
  return serviceNatsEnv(name === 'api-gateway' ? 'gateway' : name, actorKey, auth);
}
