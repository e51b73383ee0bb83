import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { signToken } from '@hms/platform';
import { freePort } from './infra';

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

/**
 * One service as a real OS process (`node dist/apps/<name>/src/main.js`): can be killed with
 * SIGKILL and started again with the same environment, as the fault tests do.
 */
export class ServiceProcess {
  private child?: ChildProcess;
  private output: string[] = [];
  private exitPromise?: Promise<number | null>;

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

  /** The operating system's id of the running process (benchmarks read its CPU time from /proc). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The last lines the process printed (for failure messages). */
  recentOutput(lines = 40): string {
    return this.output.slice(-lines).join('');
  }

  async start(timeoutMs = 60_000): Promise<void> {
    const main = join(repoRoot(), 'dist', 'apps', this.name, 'src', 'main.js');
    if (!existsSync(main)) throw new Error(`${main} is missing: run 'npm run build' first`);
    const child = spawn(process.execPath, [main], {
      env: { ...process.env, ...this.env, PORT: String(this.port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const collect = (chunk: Buffer) => {
      const text = chunk.toString();
      this.output.push(text);
      if (this.output.length > 500) this.output.splice(0, 250);
      this.onOutput?.(this.name, text);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    this.exitPromise = new Promise((resolvePromise) => child.once('exit', (code) => resolvePromise(code)));
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
  databaseUrl: string;
  natsUrl: string;
  subjectPrefix?: string;
  jwtSecret?: string;
  /** Port of the gateway; a free one when absent. */
  gatewayPort?: number;
  /** Extra environment for every service (e.g. OMS_LEASE_SWEEP_MS). */
  env?: Record<string, string>;
  onOutput?: (name: string, line: string) => void;
}

/** The whole system as four processes, plus tokens to call it with. */
export interface Stack {
  gatewayUrl: string;
  jwtSecret: string;
  subjectPrefix: string;
  services: Record<ServiceProcessName, ServiceProcess>;
  managerToken: string;
  workerToken(pools: string[], sub?: string): Promise<string>;
  serviceToken: string;
  stop(): Promise<void>;
}

/** Starts act, oms, ops and the gateway as separate processes and waits until all are ready. */
export async function startStack(options: StackOptions): Promise<Stack> {
  const jwtSecret = options.jwtSecret ?? randomBytes(24).toString('hex');
  const subjectPrefix = options.subjectPrefix ?? uniqueSubjectPrefix();
  const env: Record<string, string> = {
    DATABASE_URL: options.databaseUrl,
    NATS_URL: options.natsUrl,
    HMS_SUBJECT_PREFIX: subjectPrefix,
    HMS_JWT_SECRET: jwtSecret,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    ...options.env,
  };
  const services = {} as Record<ServiceProcessName, ServiceProcess>;
  for (const name of SERVICE_NAMES) {
    const port = name === 'api-gateway' && options.gatewayPort !== undefined ? options.gatewayPort : await freePort();
    services[name] = new ServiceProcess(name, port, env, options.onOutput);
  }
  const stopAll = async () => {
    for (const name of [...SERVICE_NAMES].reverse()) await services[name].stop();
  };
  try {
    // The three back-end services migrate their own schemas; they can start side by side.
    await Promise.all((['act', 'oms', 'ops'] as const).map((name) => services[name].start()));
    await services['api-gateway'].start();
  } catch (error) {
    await stopAll();
    throw error;
  }
  return {
    gatewayUrl: services['api-gateway'].url,
    jwtSecret,
    subjectPrefix,
    services,
    managerToken: await signToken({ sub: 'manager@hms', roles: ['manager'] }, jwtSecret),
    serviceToken: await signToken({ sub: 'service@hms', roles: ['service'] }, jwtSecret),
    workerToken: (pools, sub = 'worker@hms') => signToken({ sub, roles: ['worker'], pools }, jwtSecret),
    stop: stopAll,
  };
}
