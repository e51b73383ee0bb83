/**
 * Policy tests for docker-compose.yml, the Dockerfile and the config files they mount.
 * Docker is not available here, so the files are parsed and checked rather than run.
 */
import { createPrivateKey } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parse } from 'yaml';
import { GATEWAY_NATS_USER, generatedNatsAuthSpec, natsAuthorizationConfig, natsPasswordVariable } from '@hms/platform';

const ROOT = resolve(__dirname, '..', '..');
const APPS = ['act', 'oms', 'ops', 'api-gateway'];
const PORTS: Record<string, number> = { 'api-gateway': 3000, act: 3001, oms: 3002, ops: 3003 };
/** The services that own a schema and so must wait for Postgres. */
const DATABASE_APPS = ['act', 'oms', 'ops'];

interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string; args?: Record<string, string> | string[] };
  command?: string | string[];
  environment?: Record<string, string | number | null> | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[]; disable?: boolean };
  volumes?: (string | { type?: string; source?: string; target?: string })[];
  ports?: (string | number | { target?: number; published?: number | string })[];
  secrets?: (string | { source: string; target?: string })[];
}

interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
  secrets?: Record<string, { file?: string; environment?: string }>;
}

function loadCompose(): ComposeFile {
  // merge: true resolves the `<<: *anchor` keys the way Docker Compose does.
  return parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as ComposeFile;
}

function environment(service: ComposeService): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

function buildArgs(service: ComposeService): Record<string, string> {
  const build = service.build;
  if (build === undefined || typeof build === 'string') return {};
  const args = build.args ?? {};
  if (Array.isArray(args)) return Object.fromEntries(args.map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]));
  return args;
}

function dependsOn(service: ComposeService): Record<string, string> {
  const deps = service.depends_on ?? {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((d) => [d, 'service_started']));
  return Object.fromEntries(Object.entries(deps).map(([name, d]) => [name, d.condition ?? 'service_started']));
}

/** Bind mounts as container path -> host path (relative to the repository root). */
function bindMounts(service: ComposeService): Record<string, string> {
  const mounts: Record<string, string> = {};
  for (const v of service.volumes ?? []) {
    if (typeof v === 'string') {
      const [source, target] = v.split(':');
      if (source.startsWith('.') || source.startsWith('/')) mounts[target] = source;
    } else if (v.type === 'bind' && v.source && v.target) {
      mounts[v.target] = v.source;
    }
  }
  return mounts;
}

function namedVolumeTargets(service: ComposeService): string[] {
  return (service.volumes ?? []).flatMap((v) => {
    if (typeof v !== 'string') return v.type === 'volume' && v.target ? [v.target] : [];
    const [source, target] = v.split(':');
    return source.startsWith('.') || source.startsWith('/') ? [] : [target];
  });
}

function commandArgs(service: ComposeService): string[] {
  const command = service.command ?? [];
  return Array.isArray(command) ? command : command.split(/\s+/).filter(Boolean);
}

/** The value after a flag, accepting `--flag value` and `--flag=value`. */
function flagValue(args: string[], ...flags: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    for (const flag of flags) {
      if (args[i] === flag) return args[i + 1];
      if (args[i].startsWith(`${flag}=`)) return args[i].slice(flag.length + 1);
    }
  }
  return undefined;
}

/**
 * The body of a top-level block in a NATS server config (`name { ... }` or `name: { ... }`),
 * with comments removed; undefined when the block is absent.
 */
function natsBlock(conf: string, name: string): string | undefined {
  const text = conf.replace(/(^|\s)(#|\/\/).*$/gm, '$1');
  const start = new RegExp(`(^|\\n)\\s*${name}\\s*[:=]?\\s*\\{`).exec(text);
  if (!start) return undefined;
  let depth = 0;
  const open = start.index + start[0].length - 1;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '{') depth++;
    if (text[i] === '}' && --depth === 0) return text.slice(open + 1, i);
  }
  throw new Error(`unterminated ${name} block`);
}

function natsSetting(block: string, key: string): string | undefined {
  const m = new RegExp(`(^|\\s)${key}\\s*[:=]?\\s*("([^"]*)"|'([^']*)'|[^\\s,}]+)`).exec(block);
  return m ? (m[3] ?? m[4] ?? m[2]) : undefined;
}

/** What compose makes of `${VAR:-default}` (and `${VAR-default}`) when VAR is unset. */
function withDefaults(value: string): string {
  return value.replace(/\$\{[A-Z0-9_]+:?-([^}]*)\}/g, '$1');
}

/** User, password and host of a postgres:// URL as written (no percent-decoding of `${…}`). */
function pgCredentials(url: string): { user: string; password: string; host: string } {
  const match = /^postgres(?:ql)?:\/\/([^:@/]+):(.*)@([^@/:]+)(?::\d+)?\//.exec(url);
  if (!match) throw new Error(`not a postgres URL with user and password: ${url}`);
  return { user: match[1]!, password: match[2]!, host: match[3]! };
}

/** The path a service sees a compose secret at, for each secret it is given. */
function secretPaths(service: ComposeService): Record<string, string> {
  return Object.fromEntries(
    (service.secrets ?? []).map((entry) => {
      const { source, target } = typeof entry === 'string' ? { source: entry, target: undefined } : entry;
      return [source, target?.startsWith('/') ? target : `/run/secrets/${target ?? source}`];
    }),
  );
}

function hostOf(url: string): string {
  return new URL(url).hostname;
}

describe('docker-compose.yml', () => {
  const compose = loadCompose();
  const services = compose.services;

  it('builds the four services from the one Dockerfile when each passes its APP build arg', () => {
    const built = Object.entries(services).filter(([, s]) => s.build !== undefined);
    expect(built.map(([name]) => name).sort()).toEqual([...APPS].sort());
    for (const [name, s] of built) {
      const build = typeof s.build === 'string' ? { context: s.build } : s.build;
      expect({ name, context: resolve(ROOT, build?.context ?? '.') }).toEqual({ name, context: ROOT });
      expect(existsSync(join(ROOT, build?.dockerfile ?? 'Dockerfile'))).toBe(true);
      expect({ name, APP: buildArgs(s).APP }).toEqual({ name, APP: name });
    }
  });

  it.each(APPS)('points APP=%s at an app with src/main.ts when apps/ already has that folder', (app) => {
    expect(APPS).toContain(buildArgs(services[app]).APP);
    const dir = join(ROOT, 'apps', app);
    // Before an app's code lands the folder may be missing; the fixed list above still holds.
    if (existsSync(dir)) expect({ app, hasMainTs: existsSync(join(dir, 'src', 'main.ts')) }).toEqual({ app, hasMainTs: true });
  });

  it.each(APPS)('wires %s to Postgres, NATS, its port and the collector when it starts', (app) => {
    const env = environment(services[app]);
    expect(env.PORT).toBe(String(PORTS[app]));
    expect(env.DATABASE_URL).toMatch(/^postgres(ql)?:\/\//);
    expect(hostOf(env.DATABASE_URL)).toBe('postgres');
    expect(env.NATS_URL).toMatch(/^nats:\/\//);
    expect(hostOf(env.NATS_URL)).toBe('nats');
    expect(new URL(env.OTEL_EXPORTER_OTLP_ENDPOINT).host).toBe('otel-collector:4318');
    expect(env.OTEL_SERVICE_NAME).toBeTruthy();
    expect(services[hostOf(env.DATABASE_URL)]).toBeDefined();
    expect(services[hostOf(env.NATS_URL)]).toBeDefined();
  });

  it.each(APPS)('starts %s only when NATS (and, for schema owners, Postgres) is healthy', (app) => {
    const deps = dependsOn(services[app]);
    expect(deps.nats).toBe('service_healthy');
    if (DATABASE_APPS.includes(app)) expect(deps.postgres).toBe('service_healthy');
  });

  it('gives every app the JWT secret (services verify the token a bot sends over NATS) and publishes the gateway on host port 3000', () => {
    for (const app of APPS) expect({ app, jwt: 'HMS_JWT_SECRET' in environment(services[app]) }).toEqual({ app, jwt: true });
    const ports = (services['api-gateway'].ports ?? []).map(String);
    expect(ports).toContain('3000:3000');
  });

  it('runs NATS with the generated users, and each app as its own user with the shared actor key', () => {
    const natsEnv = environment(services.nats);
    const mounted = (services.nats.volumes ?? []).map(String);
    expect(mounted).toContain('./deploy/nats/auth.conf:/etc/nats/auth.conf:ro');
    expect(readFileSync(join(ROOT, 'deploy', 'nats', 'nats-server.conf'), 'utf8')).toMatch(/^include \.\/auth\.conf$/m);
    // The generator's output for the users in the file: the four apps, and any bots an operator added.
    const authConf = readFileSync(join(ROOT, 'deploy', 'nats', 'auth.conf'), 'utf8');
    const users = [...authConf.matchAll(/"user": "([^"]+)"/g)].map((match) => match[1]!);
    const bots = users.filter((user) => !['act', 'oms', 'ops', GATEWAY_NATS_USER].includes(user));
    expect(authConf).toBe(natsAuthorizationConfig(generatedNatsAuthSpec('', bots), { passwordsFromEnv: true }));
    const actorKeys = new Set<string>();
    for (const app of APPS) {
      const env = environment(services[app]);
      const user = app === 'api-gateway' ? GATEWAY_NATS_USER : app;
      expect({ app, user: env.NATS_USER, password: env.NATS_PASSWORD }).toEqual({ app, user, password: natsEnv[natsPasswordVariable(user)] });
      actorKeys.add(env.HMS_ACTOR_KEY);
    }
    expect([...actorKeys]).toHaveLength(1);
    expect([...actorKeys][0]!.length).toBeGreaterThan(32);
  });

  it('runs the schema owners as a role that owns nothing, made at Postgres init, and migrates as the owner', () => {
    const pgEnv = environment(services.postgres);
    const initDir = bindMounts(services.postgres)['/docker-entrypoint-initdb.d'];
    expect(initDir).toBe('./deploy/compose/postgres-init');
    const initScripts = readdirSync(join(ROOT, initDir!)).map((name) => readFileSync(join(ROOT, initDir!, name), 'utf8'));
    const serviceUsers = new Set<string>();
    for (const app of DATABASE_APPS) {
      const env = environment(services[app]);
      const owner = pgCredentials(env.DATABASE_MIGRATION_URL ?? '');
      const service = pgCredentials(env.DATABASE_URL);
      expect({ app, owner }).toEqual({ app, owner: { user: pgEnv.POSTGRES_USER, password: pgEnv.POSTGRES_PASSWORD, host: 'postgres' } });
      expect({ app, same: service.user === owner.user }).toEqual({ app, same: false });
      // The password the role is made with is the one the service logs in with.
      expect({ app, password: service.password }).toEqual({ app, password: pgEnv.HMS_DB_SERVICE_PASSWORD });
      serviceUsers.add(service.user);
    }
    expect(serviceUsers.size).toBe(1);
    const [serviceUser] = [...serviceUsers];
    expect(initScripts.some((script) => new RegExp(`CREATE ROLE "?${serviceUser}"? LOGIN PASSWORD :'password'`).test(script))).toBe(true);
    expect(initScripts.join('\n')).toMatch(/-v password="\$\{HMS_DB_SERVICE_PASSWORD/);
    // The gateway owns no schema: it must not hold the owner's credentials.
    expect(environment(services['api-gateway']).DATABASE_MIGRATION_URL).toBeUndefined();
  });

  it('gives ACT its ledger checkpoint key as a compose secret and its checkpoint folder on a named volume the service user may write', () => {
    const env = environment(services.act);
    const [keySecret, keyPath] = Object.entries(secretPaths(services.act)).find(([, path]) => path === env.ACT_LEDGER_CHECKPOINT_KEY) ?? [];
    expect(keyPath).toBe(env.ACT_LEDGER_CHECKPOINT_KEY);
    const keyFile = withDefaults(compose.secrets?.[keySecret ?? '']?.file ?? '');
    expect(keyFile).toMatch(/\.pem$/);
    expect(createPrivateKey(readFileSync(join(ROOT, keyFile), 'utf8')).asymmetricKeyType).toBe('ed25519');
    expect(namedVolumeTargets(services.act)).toContain(env.ACT_LEDGER_CHECKPOINT_DIR);
    // A named volume starts with the image's folder's owner: the image makes it the service user's.
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toContain(`mkdir -p ${env.ACT_LEDGER_CHECKPOINT_DIR} && chown 10001:10001 ${env.ACT_LEDGER_CHECKPOINT_DIR}`);
    for (const app of APPS.filter((name) => name !== 'act')) {
      expect({ app, key: environment(services[app]).ACT_LEDGER_CHECKPOINT_KEY, secrets: services[app].secrets }).toEqual({ app, key: undefined, secrets: undefined });
    }
  });

  it('gives OPS, and only OPS, a webhook signing secret of at least 16 characters', () => {
    expect(withDefaults(environment(services.ops).OPS_WEBHOOK_SECRET ?? '').length).toBeGreaterThanOrEqual(16);
    for (const app of APPS.filter((name) => name !== 'ops')) expect({ app, secret: environment(services[app]).OPS_WEBHOOK_SECRET }).toEqual({ app, secret: undefined });
  });

  it('runs postgres:17 with a pg_isready healthcheck and a named data volume', () => {
    const pg = services.postgres;
    expect(pg.image).toMatch(/^postgres:17(\.|-|$)/);
    expect([pg.healthcheck?.test ?? []].flat().join(' ')).toContain('pg_isready');
    expect(pg.healthcheck?.disable).not.toBe(true);
    expect(namedVolumeTargets(pg)).toContain('/var/lib/postgresql/data');
  });

  it('runs NATS 2.12 with JetStream and a healthcheck when compose starts it', () => {
    const nats = services.nats;
    expect(nats.image).toMatch(/^nats:2\.(1[2-9]|[2-9]\d)/);
    const args = commandArgs(nats);
    expect(args.includes('-js') || args.includes('--jetstream')).toBe(true);
    expect(nats.healthcheck?.test).toBeDefined();
  });

  it('mounts a NATS config whose jetstream block sets sync_interval: always on a persistent store_dir', () => {
    const nats = services.nats;
    const configPath = flagValue(commandArgs(nats), '-c', '--config');
    expect(configPath).toBeDefined();
    const hostPath = bindMounts(nats)[configPath ?? ''];
    expect(hostPath).toBe('./deploy/nats/nats-server.conf');
    const conf = readFileSync(join(ROOT, hostPath), 'utf8');
    const jetstream = natsBlock(conf, 'jetstream');
    expect(jetstream).toBeDefined();
    expect(natsSetting(jetstream ?? '', 'sync_interval')).toBe('always');
    const storeDir = natsSetting(jetstream ?? '', 'store_dir');
    expect(namedVolumeTargets(nats)).toContain(storeDir);
  });

  it('reads sync_interval only inside the jetstream block when the config is parsed', () => {
    // Guards the parser above: a top-level or commented-out setting must not count.
    const conf = 'sync_interval: always\njetstream {\n  store_dir: /data\n  # sync_interval: always\n}\n';
    expect(natsSetting(natsBlock(conf, 'jetstream') ?? '', 'sync_interval')).toBeUndefined();
    expect(natsSetting(natsBlock('jetstream: { sync_interval: "always" }', 'jetstream') ?? '', 'sync_interval')).toBe('always');
  });

  it('sends traces through the OpenTelemetry collector to Jaeger when the collector config is loaded', () => {
    const collector = services['otel-collector'];
    expect(collector.image).toMatch(/^otel\/opentelemetry-collector-contrib:\d/);
    const mounts = bindMounts(collector);
    const hostPath = Object.values(mounts).find((p) => p.endsWith('collector.yaml'));
    expect(hostPath).toBe('./deploy/otel/collector.yaml');
    const config = parse(readFileSync(join(ROOT, hostPath ?? ''), 'utf8')) as {
      receivers: Record<string, { protocols?: { http?: { endpoint?: string } } }>;
      processors?: Record<string, unknown>;
      exporters: Record<string, { endpoint?: string }>;
      service: { pipelines: Record<string, { receivers: string[]; processors?: string[]; exporters: string[] }> };
    };
    // The services export OTLP over HTTP on 4318; the collector must listen beyond localhost.
    expect(config.receivers.otlp?.protocols?.http?.endpoint).toBe('0.0.0.0:4318');
    const traces = config.service.pipelines.traces;
    expect(traces.receivers).toContain('otlp');
    const toJaeger = traces.exporters.filter((e) => /^otlp(_grpc|_http|http)?(\/|$)/.test(e));
    expect(toJaeger).toHaveLength(1);
    const endpoint = config.exporters[toJaeger[0]]?.endpoint ?? '';
    expect(services[endpoint.replace(/^https?:\/\//, '').split(':')[0]]).toBe(services.jaeger);
    for (const [name, pipeline] of Object.entries(config.service.pipelines)) {
      for (const r of pipeline.receivers) expect({ name, receiver: r, defined: r in config.receivers }).toMatchObject({ defined: true });
      for (const p of pipeline.processors ?? []) expect({ name, processor: p, defined: p in (config.processors ?? {}) }).toMatchObject({ defined: true });
      for (const e of pipeline.exporters) expect({ name, exporter: e, defined: e in config.exporters }).toMatchObject({ defined: true });
    }
  });

  it('pins every image to a version when it names one', () => {
    for (const [name, s] of Object.entries(services)) {
      if (s.build !== undefined) continue;
      expect({ name, image: s.image }).toEqual({ name, image: expect.stringMatching(/^[^:@]+(:(?!latest$)[\w.-]+|@sha256:[0-9a-f]{64})$/) });
    }
  });

  it('declares every named volume it mounts', () => {
    const declared = Object.keys(compose.volumes ?? {});
    for (const s of Object.values(services)) {
      for (const v of s.volumes ?? []) {
        const source = typeof v === 'string' ? v.split(':')[0] : v.source;
        if (source && !source.startsWith('.') && !source.startsWith('/')) expect(declared).toContain(source);
      }
    }
  });
});

interface Instruction {
  keyword: string;
  args: string;
}

/** Dockerfile instructions with comments removed and continuation lines joined. */
function dockerInstructions(text: string): Instruction[] {
  const joined = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [keyword, ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    });
}

/** Instructions grouped by stage (everything from one FROM to the next). */
function stages(instructions: Instruction[]): Instruction[][] {
  const out: Instruction[][] = [];
  for (const i of instructions) {
    if (i.keyword === 'FROM') out.push([]);
    if (out.length > 0) out[out.length - 1].push(i);
  }
  return out;
}

describe('Dockerfile', () => {
  const instructions = dockerInstructions(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
  const all = stages(instructions);
  const runtime = all[all.length - 1];
  const args = (stage: Instruction[], keyword: string): string[] => stage.filter((i) => i.keyword === keyword).map((i) => i.args);
  const defaults = Object.fromEntries(
    instructions
      .filter((i) => i.keyword === 'ARG' && i.args.includes('='))
      .map((i) => [i.args.slice(0, i.args.indexOf('=')), i.args.slice(i.args.indexOf('=') + 1)]),
  );
  const baseImage = (from: string): string => from.split(/\s+/)[0].replace(/^\$\{?(\w+)\}?$/, (_m, name: string) => defaults[name] ?? name);

  it('builds in several stages on node:22-bookworm-slim when parsed', () => {
    expect(all.length).toBeGreaterThanOrEqual(2);
    const stageNames = new Set(all.map((s) => s[0].args.split(/\s+AS\s+/i)[1]).filter(Boolean));
    for (const s of all) {
      const image = baseImage(s[0].args);
      if (!stageNames.has(image)) expect(image).toBe('node:22-bookworm-slim');
    }
  });

  it('installs with npm ci and builds with npm run build in a build stage', () => {
    const runs = instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    expect(runs.some((r) => /\bnpm ci\b/.test(r) && !/--omit=dev/.test(r))).toBe(true);
    expect(runs.some((r) => /\bnpm run build\b/.test(r))).toBe(true);
  });

  it('ships production dependencies only when it assembles the runtime stage', () => {
    const runs = instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    expect(runs.some((r) => /\bnpm (ci|prune)\b.*--omit=dev/.test(r))).toBe(true);
    // From a stage that installed dev dependencies the runtime may take built files, but
    // neither its node_modules nor its whole work directory.
    const devStages = all
      .filter((s) => s.some((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args) && !/--omit=dev/.test(i.args)))
      .map((s) => s[0].args.split(/\s+AS\s+/i)[1]);
    const copies = args(runtime, 'COPY');
    expect(copies.some((c) => /\bdist\b/.test(c))).toBe(true);
    for (const copy of copies) {
      const from = /--from=(\S+)/.exec(copy)?.[1];
      if (from === undefined || !devStages.includes(from)) continue;
      const sources = copy.split(/\s+/).filter((a) => !a.startsWith('--')).slice(0, -1);
      for (const source of sources) expect({ copy, source }).not.toEqual({ copy, source: expect.stringMatching(/node_modules|^\/app\/?$|^\.\/?$/) });
    }
  });

  it('copies every workspace library entry file into the runtime stage when a lib points outside dist/', () => {
    const copied = args(runtime, 'COPY').join('\n');
    for (const name of readdirSync(join(ROOT, 'libs'))) {
      const manifest = join(ROOT, 'libs', name, 'package.json');
      if (!existsSync(manifest)) continue;
      const main = relative(ROOT, resolve(dirname(manifest), (JSON.parse(readFileSync(manifest, 'utf8')) as { main?: string }).main ?? 'index.js'));
      // Entries under dist/ arrive with dist; anything else needs the lib folder itself.
      const covered = main.startsWith('dist/') ? /\bdist\b/.test(copied) : /(^|[\s/])libs\b/m.test(copied);
      expect({ lib: name, main, covered }).toEqual({ lib: name, main, covered: true });
    }
  });

  it('runs as the non-root uid 10001 when the container starts', () => {
    const users = args(runtime, 'USER');
    expect(users.length).toBeGreaterThan(0);
    const user = users[users.length - 1].split(':')[0];
    expect(user).not.toMatch(/^(0|root)$/);
    expect(user === '10001' || instructions.some((i) => i.keyword === 'RUN' && i.args.includes('--uid 10001'))).toBe(true);
  });

  it('selects the app with ARG APP / ENV APP and runs dist/apps/<APP>/src/main.js', () => {
    expect(args(runtime, 'ARG').some((a) => /^APP\b/.test(a))).toBe(true);
    expect(args(runtime, 'ENV').some((a) => /^APP=/.test(a))).toBe(true);
    const cmd = [...args(runtime, 'CMD'), ...args(runtime, 'ENTRYPOINT')].join(' ');
    expect(cmd).toMatch(/node dist\/apps\/\$\{?APP[^/]*\}?\/src\/main\.js/);
  });

  it('exposes the four service ports', () => {
    const exposed = args(runtime, 'EXPOSE').join(' ').split(/\s+/).map(Number);
    expect(exposed).toEqual(expect.arrayContaining(Object.values(PORTS)));
  });

  it('keeps node_modules, dist, .git, local state and env files out of the build context', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '.git', '.hms', '.env']));
  });
});
