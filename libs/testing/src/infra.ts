import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { EmbeddedPostgres } from './embedded-postgres';
import { natsAuthorizationConfig, type NatsAuthSpec } from '@hms/platform';

/** A free TCP port on loopback, from the OS. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Resolves once something accepts TCP connections on the port. */
export async function waitForPort(port: number, host = '127.0.0.1', timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = netConnect(port, host);
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`nothing is listening on ${host}:${port} after ${timeoutMs} ms`);
}

/** The Postgres and NATS a stack or a test run uses. */
export interface Infra {
  databaseUrl: string;
  natsUrl: string;
  /** True for the parts this launcher started (and will stop). */
  embedded: { postgres: boolean; nats: boolean };
  /** Where the embedded Postgres keeps its data (moved when run as root, see {@link ROOT_POSTGRES_HOME}). */
  postgresDataDir?: string;
  stop(): Promise<void>;
}

export interface InfraOptions {
  /** Where embedded Postgres keeps its data; kept across runs when `persistent`. */
  dataDir: string;
  persistent: boolean;
  databaseUrl?: string;
  natsUrl?: string;
  /** Database created on the embedded server for the caller. */
  databaseName?: string;
  /** Users and permissions of the embedded nats-server (ignored when `natsUrl` names a server). */
  natsAuth?: NatsAuthSpec;
  log?: (line: string) => void;
}

/** Explains how to get nats-server when it is not on PATH. */
export class NatsServerMissingError extends Error {
  constructor(bin: string) {
    super(
      `'${bin}' was not found. Install the NATS server (Debian/Ubuntu: 'apt-get install nats-server'; macOS: 'brew install nats-server'; ` +
        `or download it from the NATS releases) and put it on PATH, set NATS_SERVER_BIN to its path, or point NATS_URL at a running server.`,
    );
    this.name = 'NatsServerMissingError';
  }
}

function findNatsServer(bin: string): string {
  if (bin.includes('/')) {
    if (!existsSync(bin)) throw new NatsServerMissingError(bin);
    return bin;
  }
  const found = spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' });
  const path = found.stdout.trim();
  if (found.status !== 0 || !path) throw new NatsServerMissingError(bin);
  return path;
}

/** Starts `nats-server` with JetStream in a temporary store, on `port` or a free one. */
export async function startNatsServer(
  options: {
    bin?: string;
    log?: (line: string) => void;
    port?: number;
    /** The server's `max_payload` in bytes (NATS's default is 1 MiB). */ maxPayload?: number;
    /** Users and permissions, as a deployment configures them (docs/security.md "NATS"); none lets anyone in. */
    auth?: NatsAuthSpec;
  } = {},
): Promise<{ url: string; stop(): Promise<void> }> {
  const bin = findNatsServer(options.bin ?? 'nats-server');
  const port = options.port ?? (await freePort());
  const storeDir = mkdtempSync(join(tmpdir(), 'hms-nats-'));
  const args = ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir];
  // No command-line flag sets these: a config file does.
  const config = [
    ...(options.maxPayload !== undefined ? [`max_payload: ${options.maxPayload}\n`] : []),
    ...(options.auth ? [natsAuthorizationConfig(options.auth)] : []),
  ];
  if (config.length > 0) {
    const configFile = join(storeDir, 'nats.conf');
    writeFileSync(configFile, config.join(''), { mode: 0o600 });
    args.push('-c', configFile);
  }
  const child: ChildProcess = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr?.on('data', (chunk: Buffer) => options.log?.(chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await Promise.race([
    waitForPort(port),
    exited.then(() => {
      throw new Error(`nats-server exited at start (exit code ${child.exitCode})`);
    }),
  ]);
  return {
    url: `nats://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

/** Flags of every embedded server: room for the tests' parallel services, and real fsync. */
const EMBEDDED_POSTGRES_FLAGS = ['-c', 'max_connections=300', '-c', 'fsync=on', '-c', 'shared_buffers=256MB'];

/**
 * Starts an embedded Postgres (the `embedded-postgres` package's binaries) on a free port. The
 * server can be stopped and started again on the same port (`server`), as the outage tests do.
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  persistent: boolean;
  log?: (line: string) => void;
}): Promise<{ adminUrl: string; dataDir: string; server: EmbeddedPostgres; start(): Promise<void>; stop(): Promise<void> }> {
  const server = await EmbeddedPostgres.create({ ...options, port: await freePort() });
  const start = () => server.start(EMBEDDED_POSTGRES_FLAGS);
  await start();
  return { adminUrl: server.adminUrl, dataDir: server.dataDir, server, start, stop: () => server.destroy() };
}

/** The URL of another database on the same server. */
export function databaseUrlFor(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** Creates a database (if missing) and returns its URL. */
export async function createDatabase(serverUrl: string, name: string): Promise<string> {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`unsafe database name '${name}'`);
  const client = new Client({ connectionString: databaseUrlFor(serverUrl, 'postgres') });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  return databaseUrlFor(serverUrl, name);
}

export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  const client = new Client({ connectionString: databaseUrlFor(serverUrl, 'postgres') });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/**
 * Postgres and NATS for `npm start` and `npm test`: the servers named by DATABASE_URL / NATS_URL
 * when given, otherwise an embedded Postgres and a `nats-server` child process.
 */
export async function startInfra(options: InfraOptions): Promise<Infra> {
  const stops: Array<() => Promise<void>> = [];
  try {
    let databaseUrl = options.databaseUrl;
    let postgresDataDir: string | undefined;
    if (!databaseUrl) {
      const postgres = await startEmbeddedPostgres({ dataDir: options.dataDir, persistent: options.persistent, log: options.log });
      stops.push(postgres.stop);
      postgresDataDir = postgres.dataDir;
      databaseUrl = options.databaseName ? await createDatabase(postgres.adminUrl, options.databaseName) : postgres.adminUrl;
    }
    let natsUrl = options.natsUrl;
    if (!natsUrl) {
      const nats = await startNatsServer({ bin: process.env.NATS_SERVER_BIN, log: options.log, auth: options.natsAuth });
      stops.unshift(nats.stop);
      natsUrl = nats.url;
    }
    return {
      databaseUrl,
      natsUrl,
      embedded: { postgres: !options.databaseUrl, nats: !options.natsUrl },
      postgresDataDir,
      async stop() {
        for (const stop of stops) await stop().catch(() => undefined);
      },
    };
  } catch (error) {
    for (const stop of stops) await stop().catch(() => undefined);
    throw error;
  }
}

/** The role services run as in tests and the dev stack: it owns nothing, so it cannot alter the schema. */
export const SERVICE_ROLE = { user: 'hms_service', password: 'hms_service' } as const;

/**
 * Creates the service role on the server (once; roles are server-wide) and returns the URL of
 * `database` as that role. The services migrate as the server's user (the owner) and work as
 * this one, as production must (docs/operations.md).
 */
export async function ensureServiceRole(serverUrl: string, database: string): Promise<string> {
  const client = new Client({ connectionString: databaseUrlFor(serverUrl, 'postgres') });
  await client.connect();
  try {
    await client.query(`CREATE ROLE "${SERVICE_ROLE.user}" LOGIN PASSWORD '${SERVICE_ROLE.password}'`);
  } catch (error) {
    // Another test file made it first (duplicate_object, or the catalog's unique index in a race).
    if (!['42710', '23505'].includes((error as { code?: string }).code ?? '')) throw error;
  } finally {
    await client.end();
  }
  const url = new URL(databaseUrlFor(serverUrl, database));
  url.username = SERVICE_ROLE.user;
  url.password = SERVICE_ROLE.password;
  return url.toString();
}
