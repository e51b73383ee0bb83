/**
 * Policy tests for deploy/ (kustomize). Neither a cluster nor kubeconform is available
 * here, so the kustomization tree is rendered by a small renderer below and every
 * rendered object is checked against the policies in docs/operations.md. When kubectl is
 * on PATH the same policies also run on `kubectl kustomize` output, which keeps the
 * renderer honest.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { GATEWAY_NATS_USER, generatedNatsAuthSpec, natsPasswordVariable, natsUserEntries } from '@hms/platform';

const ROOT = resolve(__dirname, '..', '..');
const DEPLOY = join(ROOT, 'deploy');
const BASE = join(DEPLOY, 'base');
const OVERLAYS = join(DEPLOY, 'overlays');
const NAMESPACE = 'hms';
const SECRET_NAME = 'hms-secrets';
const CONFIG_NAME = 'hms-config';
const SECRET_EXAMPLE = join(BASE, 'config', 'secret.example.yaml');
const RUN_AS_USER = 10001;

/**
 * The four services, their HTTP port (health and /metrics) and the Secret keys each may
 * receive. The gateway owns no data, so it gets no database credentials.
 */
const DATABASE_KEYS = ['DATABASE_URL', 'DATABASE_MIGRATION_URL'];
const SERVICES: Record<string, { port: number; secretKeys: string[]; natsUser: string }> = {
  act: { port: 3001, secretKeys: [...DATABASE_KEYS, 'HMS_JWT_SECRET', 'HMS_ACTOR_KEY', 'ACT_LEDGER_CHECKPOINT_KEY'], natsUser: 'act' },
  oms: { port: 3002, secretKeys: [...DATABASE_KEYS, 'HMS_JWT_SECRET', 'HMS_ACTOR_KEY'], natsUser: 'oms' },
  ops: { port: 3003, secretKeys: [...DATABASE_KEYS, 'HMS_JWT_SECRET', 'HMS_ACTOR_KEY', 'OPS_WEBHOOK_SECRET'], natsUser: 'ops' },
  'api-gateway': { port: 3000, secretKeys: ['HMS_JWT_SECRET', 'HMS_ACTOR_KEY'], natsUser: GATEWAY_NATS_USER },
};
const SERVICE_NAMES = Object.keys(SERVICES);
/** Keys every service needs from the shared ConfigMap. */
const CONFIG_KEYS = ['NATS_URL', 'LOG_LEVEL', 'OTEL_EXPORTER_OTLP_ENDPOINT'];
/** Values that must only ever come from a Secret. */
const SECRET_ENV = [...DATABASE_KEYS, 'HMS_JWT_SECRET', 'HMS_ACTOR_KEY', 'ACT_LEDGER_CHECKPOINT_KEY', 'OPS_WEBHOOK_SECRET', 'NATS_PASSWORD'];
/** The keys of hms-secrets: the secrets above, with a NATS password per service user. */
const SECRET_KEYS = [
  ...DATABASE_KEYS,
  'HMS_JWT_SECRET',
  'HMS_ACTOR_KEY',
  'ACT_LEDGER_CHECKPOINT_KEY',
  'OPS_WEBHOOK_SECRET',
  ...Object.values(SERVICES).map((service) => natsPasswordVariable(service.natsUser)),
];

// ---------------------------------------------------------------------------
// Types: only the fields these policies read.

type Labels = Record<string, string>;

interface Metadata {
  name: string;
  namespace?: string;
  labels?: Labels;
  annotations?: Labels;
}

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: Metadata;
  [field: string]: unknown;
}

interface HttpProbe {
  httpGet?: { path?: string; port?: number | string };
  periodSeconds?: number;
  failureThreshold?: number;
}

interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  allowPrivilegeEscalation?: boolean;
  readOnlyRootFilesystem?: boolean;
  privileged?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type?: string };
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string };
    configMapKeyRef?: { name: string; key: string };
  };
}

interface Container {
  name: string;
  image?: string;
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  ports?: { name?: string; containerPort: number }[];
  startupProbe?: HttpProbe;
  readinessProbe?: HttpProbe;
  livenessProbe?: HttpProbe;
  resources?: { requests?: Record<string, string | number>; limits?: Record<string, string | number> };
  securityContext?: SecurityContext;
  volumeMounts?: { name: string; mountPath: string }[];
}

interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  securityContext?: SecurityContext;
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  enableServiceLinks?: boolean;
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  volumes?: { name: string; emptyDir?: object; persistentVolumeClaim?: { claimName: string } }[];
}

interface Deployment extends K8sObject {
  spec: {
    replicas?: number;
    selector: { matchLabels?: Labels; matchExpressions?: unknown[] };
    template: { metadata: { labels?: Labels; annotations?: Labels }; spec: PodSpec };
  };
}

interface Service extends K8sObject {
  spec: { selector?: Labels; ports?: { name?: string; port: number; targetPort?: number | string }[] };
}

interface PodDisruptionBudget extends K8sObject {
  spec: {
    minAvailable?: number | string;
    maxUnavailable?: number | string;
    selector?: { matchLabels?: Labels; matchExpressions?: unknown[] };
  };
}

interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
}

interface RoleBinding extends K8sObject {
  roleRef: { kind: string; name: string };
  subjects?: { kind: string; name: string; namespace?: string }[];
}

interface DataObject extends K8sObject {
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

// ---------------------------------------------------------------------------
// A kustomize renderer for the subset of features deploy/ uses. Anything else throws, so
// a new feature in a kustomization fails here until the renderer (or kubectl) covers it.

interface Generator {
  name: string;
  behavior?: 'create' | 'merge' | 'replace';
  literals?: string[];
  options?: { disableNameSuffixHash?: boolean };
  [field: string]: unknown;
}

interface Kustomization {
  apiVersion?: string;
  kind?: string;
  namespace?: string;
  resources?: string[];
  patches?: { path?: string; patch?: string; target?: { kind?: string; name?: string } }[];
  images?: { name: string; newName?: string; newTag?: string; digest?: string }[];
  replicas?: { name: string; count: number }[];
  configMapGenerator?: Generator[];
  secretGenerator?: Generator[];
}

const SUPPORTED_FIELDS = new Set([
  'apiVersion',
  'kind',
  'namespace',
  'resources',
  'patches',
  'images',
  'replicas',
  'configMapGenerator',
  'secretGenerator',
]);

const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'PersistentVolume',
  'StorageClass',
  'PriorityClass',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
]);

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet']);

interface Rendered {
  objects: K8sObject[];
  /** Every file the render read, so tests can find manifests nothing refers to. */
  files: Set<string>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function kustomizationFile(dir: string): string {
  for (const name of ['kustomization.yaml', 'kustomization.yml', 'Kustomization']) {
    const file = join(dir, name);
    if (existsSync(file)) return file;
  }
  throw new Error(`${rel(dir)} has no kustomization.yaml`);
}

function rel(path: string): string {
  return relative(ROOT, path) || '.';
}

function readYamlFile(file: string): unknown {
  const doc = parseAllDocuments(readFileSync(file, 'utf8'));
  if (!Array.isArray(doc)) throw new Error(`${rel(file)}: not YAML`);
  if (doc.length !== 1) throw new Error(`${rel(file)}: expected one YAML document, found ${doc.length}`);
  const [only] = doc;
  if (only.errors.length > 0) throw new Error(`${rel(file)}: ${only.errors.map((e) => e.message).join('; ')}`);
  return only.toJS();
}

/** Loads every document of a manifest file, rejecting anything that is not a k8s object. */
function loadManifests(file: string): K8sObject[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  if (!Array.isArray(docs)) throw new Error(`${rel(file)}: not YAML`);
  const objects: K8sObject[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`${rel(file)}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    if (
      !isRecord(value) ||
      typeof value.apiVersion !== 'string' ||
      typeof value.kind !== 'string' ||
      !isRecord(value.metadata) ||
      typeof value.metadata.name !== 'string'
    ) {
      throw new Error(`${rel(file)}: every document needs apiVersion, kind and metadata.name`);
    }
    objects.push(value as K8sObject);
  }
  return objects;
}

function readKustomization(dir: string): { file: string; k: Kustomization } {
  const file = kustomizationFile(dir);
  const value = readYamlFile(file);
  if (!isRecord(value)) throw new Error(`${rel(file)}: not a mapping`);
  const unsupported = Object.keys(value).filter((key) => !SUPPORTED_FIELDS.has(key));
  if (unsupported.length > 0) {
    throw new Error(`${rel(file)}: fields not modelled by this renderer: ${unsupported.join(', ')}`);
  }
  return { file, k: value as Kustomization };
}

/** Resolves a path from a kustomization, refusing remote bases and missing files. */
function resolveLocal(dir: string, entry: string, file: string): string {
  if (/^[a-z]+:\/\//i.test(entry) || entry.startsWith('github.com/')) {
    throw new Error(`${rel(file)}: remote resource ${entry} (renders must be reproducible offline)`);
  }
  const path = resolve(dir, entry);
  if (!existsSync(path)) throw new Error(`${rel(file)}: ${entry} does not exist`);
  return path;
}

function render(dir: string, stack: string[] = []): Rendered {
  const here = resolve(dir);
  if (stack.includes(here)) throw new Error(`kustomization cycle: ${[...stack, here].map(rel).join(' -> ')}`);
  const { file, k } = readKustomization(here);
  const files = new Set<string>([file]);
  let objects: K8sObject[] = [];

  for (const entry of k.resources ?? []) {
    const path = resolveLocal(here, entry, file);
    if (statSync(path).isDirectory()) {
      const sub = render(path, [...stack, here]);
      sub.files.forEach((f) => files.add(f));
      objects.push(...sub.objects);
    } else {
      if (!path.startsWith(here + '/')) {
        throw new Error(`${rel(file)}: ${entry} is a file outside the kustomization root (kustomize refuses it)`);
      }
      files.add(path);
      objects.push(...loadManifests(path));
    }
  }
  objects = objects.map((o) => structuredClone(o));

  for (const [kind, generators] of [
    ['ConfigMap', k.configMapGenerator],
    ['Secret', k.secretGenerator],
  ] as const) {
    for (const gen of generators ?? []) objects = applyGenerator(objects, kind, gen, file);
  }

  for (const patch of k.patches ?? []) {
    let body: unknown;
    if (patch.path !== undefined) {
      const path = resolveLocal(here, patch.path, file);
      files.add(path);
      body = readYamlFile(path);
    } else if (patch.patch !== undefined) {
      body = parse(patch.patch);
    } else {
      throw new Error(`${rel(file)}: patch without path or patch`);
    }
    if (!isRecord(body)) throw new Error(`${rel(file)}: only strategic-merge patches are modelled`);
    const kind = patch.target?.kind ?? body.kind;
    const name = patch.target?.name ?? (isRecord(body.metadata) ? body.metadata.name : undefined);
    const targets = objects.filter((o) => o.kind === kind && o.metadata.name === name);
    if (targets.length === 0) throw new Error(`${rel(file)}: patch target ${String(kind)}/${String(name)} not found`);
    for (const target of targets) mergePatch(target, body, `${String(kind)}/${String(name)}`);
  }

  if (k.namespace !== undefined) {
    for (const o of objects) {
      if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k.namespace;
      if (o.kind === 'RoleBinding') {
        for (const s of (o as RoleBinding).subjects ?? []) {
          if (s.kind === 'ServiceAccount' && s.namespace === undefined) s.namespace = k.namespace;
        }
      }
    }
  }

  for (const image of k.images ?? []) {
    let used = false;
    for (const c of objects.flatMap(containersOf)) {
      if (c.image === undefined || imageName(c.image) !== image.name) continue;
      used = true;
      const name = image.newName ?? image.name;
      const tag = image.newTag ?? imageTag(c.image);
      c.image = image.digest !== undefined ? `${name}@${image.digest}` : tag !== undefined ? `${name}:${tag}` : name;
    }
    if (!used) throw new Error(`${rel(file)}: images entry ${image.name} matches no container`);
  }

  for (const r of k.replicas ?? []) {
    const targets = objects.filter((o) => WORKLOAD_KINDS.has(o.kind) && o.metadata.name === r.name);
    if (targets.length === 0) throw new Error(`${rel(file)}: replicas entry ${r.name} matches no workload`);
    for (const t of targets) (t as Deployment).spec.replicas = r.count;
  }

  return { objects, files };
}

function applyGenerator(objects: K8sObject[], kind: 'ConfigMap' | 'Secret', gen: Generator, file: string): K8sObject[] {
  const unsupported = Object.keys(gen).filter((key) => !['name', 'behavior', 'literals', 'options', 'type'].includes(key));
  if (unsupported.length > 0) throw new Error(`${rel(file)}: generator fields not modelled: ${unsupported.join(', ')}`);
  if (gen.options?.disableNameSuffixHash !== true) {
    throw new Error(`${rel(file)}: ${gen.name} needs options.disableNameSuffixHash (name hashes are not modelled)`);
  }
  const data: Record<string, string> = {};
  for (const literal of gen.literals ?? []) {
    const eq = literal.indexOf('=');
    if (eq <= 0) throw new Error(`${rel(file)}: literal "${literal}" is not KEY=value`);
    const value = literal.slice(eq + 1);
    data[literal.slice(0, eq)] = kind === 'Secret' ? Buffer.from(value).toString('base64') : value;
  }
  const existing = objects.find((o) => o.kind === kind && o.metadata.name === gen.name);
  const behavior = gen.behavior ?? 'create';
  if (behavior === 'create') {
    if (existing) throw new Error(`${rel(file)}: ${kind}/${gen.name} generated twice`);
    const created: DataObject = { apiVersion: 'v1', kind, metadata: { name: gen.name }, data };
    if (kind === 'Secret') created.type = 'Opaque';
    return [...objects, created];
  }
  if (!existing) throw new Error(`${rel(file)}: ${behavior} of missing ${kind}/${gen.name}`);
  const target = existing as DataObject;
  target.data = behavior === 'merge' ? { ...(target.data ?? {}), ...data } : data;
  return objects;
}

/** Strategic merge as far as these manifests need it: maps merge, lists of named items merge by name. */
function mergePatch(target: Record<string, unknown>, patch: Record<string, unknown>, where: string): void {
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$')) throw new Error(`${where}: patch directive ${key} is not modelled`);
    const current = target[key];
    if (value === null) {
      delete target[key];
    } else if (isRecord(value) && isRecord(current)) {
      mergePatch(current, value, where);
    } else if (Array.isArray(value) && Array.isArray(current) && value.every(named) && current.every(named)) {
      for (const item of value) {
        const match = current.find((c) => c.name === item.name);
        if (match) mergePatch(match, item, where);
        else current.push(structuredClone(item));
      }
    } else {
      target[key] = structuredClone(value);
    }
  }
}

function named(value: unknown): value is Record<string, unknown> & { name: string } {
  return isRecord(value) && typeof value.name === 'string';
}

function imageName(image: string): string {
  const noDigest = image.split('@')[0];
  const colon = noDigest.lastIndexOf(':');
  return colon > noDigest.lastIndexOf('/') ? noDigest.slice(0, colon) : noDigest;
}

function imageTag(image: string): string | undefined {
  if (image.includes('@')) return undefined;
  const name = imageName(image);
  return image.length > name.length ? image.slice(name.length + 1) : undefined;
}

function podSpecOf(o: K8sObject): PodSpec | undefined {
  if (!WORKLOAD_KINDS.has(o.kind)) return undefined;
  return (o as Deployment).spec?.template?.spec;
}

function containersOf(o: K8sObject): Container[] {
  const spec = podSpecOf(o);
  return spec ? [...(spec.initContainers ?? []), ...spec.containers] : [];
}

/** Renders with kubectl when it is installed; undefined otherwise. */
function kubectlRender(dir: string): K8sObject[] | undefined {
  const result = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 60_000 });
  if (result.error || result.status !== 0) return undefined;
  return parseAllDocuments(result.stdout)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

const KUBECTL = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8', timeout: 30_000 }).status === 0;

// ---------------------------------------------------------------------------
// Policies. Each returns a list of violations, empty when the objects comply.

const deploymentsOf = (objects: K8sObject[]): Deployment[] => objects.filter((o): o is Deployment => o.kind === 'Deployment');
const ofKind = <T extends K8sObject>(objects: K8sObject[], kind: string): T[] => objects.filter((o) => o.kind === kind) as T[];
const podLabels = (d: Deployment): Labels => d.spec.template.metadata.labels ?? {};

function selects(selector: Labels | undefined, labels: Labels): boolean {
  if (selector === undefined || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

function appContainer(d: Deployment): Container | undefined {
  return d.spec.template.spec.containers.find((c) => c.name === d.metadata.name) ?? d.spec.template.spec.containers[0];
}

function envValue(c: Container, name: string): string | undefined {
  return c.env?.find((e) => e.name === name)?.value;
}

function portOf(c: Container, port: number | string | undefined): number | undefined {
  if (typeof port === 'number') return c.ports?.some((p) => p.containerPort === port) ? port : undefined;
  return c.ports?.find((p) => p.name === port)?.containerPort;
}

/** CPU in millicores, memory in bytes. */
function quantity(value: string | number): number {
  if (typeof value === 'number') return value;
  const m = /^([0-9.]+)(m|k|Ki|M|Mi|G|Gi|T|Ti)?$/.exec(value);
  if (!m) return Number.NaN;
  const units: Record<string, number> = { m: 1e-3, k: 1e3, Ki: 1024, M: 1e6, Mi: 1024 ** 2, G: 1e9, Gi: 1024 ** 3, T: 1e12, Ti: 1024 ** 4 };
  return Number(m[1]) * (m[2] ? units[m[2]] : 1);
}

function probeViolations(objects: K8sObject[]): string[] {
  const out: string[] = [];
  for (const d of deploymentsOf(objects)) {
    for (const c of d.spec.template.spec.containers) {
      const where = `Deployment/${d.metadata.name} container ${c.name}`;
      const expected = SERVICES[d.metadata.name]?.port;
      const check = (probe: HttpProbe | undefined, kind: string, path: string): void => {
        if (!probe?.httpGet) {
          out.push(`${where}: no HTTP ${kind} probe`);
          return;
        }
        if (probe.httpGet.path !== path) out.push(`${where}: ${kind} probe path ${probe.httpGet.path} is not ${path}`);
        const port = portOf(c, probe.httpGet.port);
        if (port === undefined) out.push(`${where}: ${kind} probe port ${String(probe.httpGet.port)} is not a container port`);
        else if (expected !== undefined && port !== expected) out.push(`${where}: ${kind} probe port ${port} is not ${expected}`);
      };
      check(c.readinessProbe, 'readiness', '/health/ready');
      check(c.livenessProbe, 'liveness', '/health/live');
      // Migrations run at start; liveness must not kill a pod waiting on the migration lock.
      check(c.startupProbe, 'startup', '/health/live');
      const budget = (c.startupProbe?.periodSeconds ?? 10) * (c.startupProbe?.failureThreshold ?? 3);
      if (c.startupProbe && budget < 120) out.push(`${where}: startup probe allows only ${budget}s`);
    }
  }
  return out;
}

function resourceViolations(objects: K8sObject[]): string[] {
  const out: string[] = [];
  for (const d of deploymentsOf(objects)) {
    for (const c of [...(d.spec.template.spec.initContainers ?? []), ...d.spec.template.spec.containers]) {
      const where = `Deployment/${d.metadata.name} container ${c.name}`;
      for (const r of ['cpu', 'memory']) {
        const request = c.resources?.requests?.[r];
        const limit = c.resources?.limits?.[r];
        if (request === undefined) out.push(`${where}: no ${r} request`);
        if (limit === undefined) out.push(`${where}: no ${r} limit`);
        if (request === undefined || limit === undefined) continue;
        const [q, l] = [quantity(request), quantity(limit)];
        if (Number.isNaN(q) || Number.isNaN(l)) out.push(`${where}: unreadable ${r} quantity`);
        else if (q > l) out.push(`${where}: ${r} request ${request} exceeds limit ${limit}`);
      }
    }
  }
  return out;
}

function securityViolations(objects: K8sObject[]): string[] {
  const out: string[] = [];
  for (const d of deploymentsOf(objects)) {
    const pod = d.spec.template.spec;
    const where = `Deployment/${d.metadata.name}`;
    if (pod.hostNetwork || pod.hostPID || pod.hostIPC) out.push(`${where}: uses host namespaces`);
    if (pod.enableServiceLinks !== false) out.push(`${where}: enableServiceLinks is not false (service env vars collide with app settings)`);
    const tmpVolumes = new Set((pod.volumes ?? []).filter((v) => v.emptyDir !== undefined).map((v) => v.name));
    for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
      const at = `${where} container ${c.name}`;
      // The container's own settings win over the pod's.
      const sc: SecurityContext = { ...pod.securityContext, ...c.securityContext };
      if (sc.runAsNonRoot !== true) out.push(`${at}: runAsNonRoot is not true`);
      if (sc.runAsUser !== RUN_AS_USER) out.push(`${at}: runAsUser is ${String(sc.runAsUser)}, not ${RUN_AS_USER}`);
      if (sc.seccompProfile?.type !== 'RuntimeDefault') out.push(`${at}: seccompProfile is not RuntimeDefault`);
      const own = c.securityContext ?? {};
      if (own.allowPrivilegeEscalation !== false) out.push(`${at}: allowPrivilegeEscalation is not false`);
      if (own.readOnlyRootFilesystem !== true) out.push(`${at}: readOnlyRootFilesystem is not true`);
      if (own.privileged === true) out.push(`${at}: privileged`);
      if (!own.capabilities?.drop?.includes('ALL')) out.push(`${at}: capabilities do not drop ALL`);
      if ((own.capabilities?.add ?? []).length > 0) out.push(`${at}: adds capabilities`);
      const tmp = c.volumeMounts?.find((m) => m.mountPath === '/tmp');
      if (!tmp || !tmpVolumes.has(tmp.name)) out.push(`${at}: read-only root but no emptyDir at /tmp`);
    }
  }
  return out;
}

function serviceViolations(objects: K8sObject[]): string[] {
  const out: string[] = [];
  const deployments = deploymentsOf(objects);
  const services = ofKind<Service>(objects, 'Service');
  for (const d of deployments) {
    if (!selects(d.spec.selector.matchLabels, podLabels(d))) {
      out.push(`Deployment/${d.metadata.name}: selector does not match its own pod labels`);
    }
    if (!services.some((s) => selects(s.spec.selector, podLabels(d)))) out.push(`Deployment/${d.metadata.name}: no Service selects its pods`);
  }
  for (const s of services) {
    const matched = deployments.filter((d) => selects(s.spec.selector, podLabels(d)));
    if (matched.length !== 1) {
      out.push(`Service/${s.metadata.name}: selector matches ${matched.length} Deployments, expected exactly 1`);
      continue;
    }
    const c = appContainer(matched[0]);
    for (const p of s.spec.ports ?? []) {
      if (c === undefined || portOf(c, p.targetPort ?? p.port) === undefined) {
        out.push(`Service/${s.metadata.name}: targetPort ${String(p.targetPort ?? p.port)} is not a port of ${matched[0].metadata.name}`);
      }
    }
  }
  return out;
}

function pdbViolations(objects: K8sObject[]): string[] {
  const out: string[] = [];
  const deployments = deploymentsOf(objects);
  const pdbs = ofKind<PodDisruptionBudget>(objects, 'PodDisruptionBudget');
  for (const p of pdbs) {
    const where = `PodDisruptionBudget/${p.metadata.name}`;
    if (p.apiVersion !== 'policy/v1') out.push(`${where}: apiVersion ${p.apiVersion} is not policy/v1`);
    if ((p.spec.selector?.matchExpressions ?? []).length > 0) out.push(`${where}: matchExpressions are not checked; use matchLabels`);
    const matched = deployments.filter((d) => selects(p.spec.selector?.matchLabels, podLabels(d)));
    // Overlapping budgets make the eviction API refuse to evict those pods at all.
    if (matched.length !== 1) out.push(`${where}: selector matches ${matched.length} Deployments, expected exactly 1`);
    const hasMin = p.spec.minAvailable !== undefined;
    const hasMax = p.spec.maxUnavailable !== undefined;
    if (hasMin === hasMax) out.push(`${where}: set exactly one of minAvailable and maxUnavailable`);
    for (const d of matched) {
      const replicas = d.spec.replicas ?? 1;
      // A budget that can never be met blocks every node drain.
      if (typeof p.spec.minAvailable === 'number' && p.spec.minAvailable >= replicas) {
        out.push(`${where}: minAvailable ${p.spec.minAvailable} with ${replicas} replica(s) of ${d.metadata.name} blocks drains`);
      }
      if (p.spec.maxUnavailable === 0 || p.spec.maxUnavailable === '0%') out.push(`${where}: maxUnavailable 0 blocks drains`);
    }
  }
  for (const d of deployments) {
    if (!pdbs.some((p) => selects(p.spec.selector?.matchLabels, podLabels(d)))) out.push(`Deployment/${d.metadata.name}: no PodDisruptionBudget`);
  }
  return out;
}

/**
 * Env and config wiring: APP selects the right service, PORT matches the container port,
 * shared settings come from the ConfigMap and secrets only from the Secret. `secrets` is
 * the Secret objects that will exist at run time (rendered or created out of band).
 */
function wiringViolations(objects: K8sObject[], secrets: DataObject[]): string[] {
  const out: string[] = [];
  const configMaps = ofKind<DataObject>(objects, 'ConfigMap');
  const deployments = deploymentsOf(objects);
  const names = deployments.map((d) => d.metadata.name).sort();
  if (JSON.stringify(names) !== JSON.stringify([...SERVICE_NAMES].sort())) {
    out.push(`Deployments are [${names.join(', ')}], expected [${SERVICE_NAMES.join(', ')}]`);
  }
  for (const d of deployments) {
    const where = `Deployment/${d.metadata.name}`;
    const spec = SERVICES[d.metadata.name];
    const c = appContainer(d);
    if (spec === undefined || c === undefined) continue;
    if (envValue(c, 'APP') !== d.metadata.name) out.push(`${where}: APP is ${String(envValue(c, 'APP'))}`);
    if (envValue(c, 'PORT') !== String(spec.port)) out.push(`${where}: PORT is ${String(envValue(c, 'PORT'))}, expected ${spec.port}`);
    if (!c.ports?.some((p) => p.containerPort === spec.port)) out.push(`${where}: no containerPort ${spec.port}`);
    if (!envValue(c, 'OTEL_SERVICE_NAME')) out.push(`${where}: no OTEL_SERVICE_NAME`);
    if (c.image === undefined || imageName(c.image).split('/').pop() !== 'hms') out.push(`${where}: image ${String(c.image)} is not the hms image`);

    const fromConfig = new Set<string>();
    for (const ref of c.envFrom ?? []) {
      if (ref.secretRef) out.push(`${where}: envFrom a whole Secret hands every key to every pod; use secretKeyRef`);
      if (!ref.configMapRef) continue;
      const cm = configMaps.find((m) => m.metadata.name === ref.configMapRef?.name);
      if (!cm) out.push(`${where}: ConfigMap ${ref.configMapRef.name} is not part of the render`);
      Object.keys(cm?.data ?? {}).forEach((key) => fromConfig.add(key));
    }
    if (!c.envFrom?.some((ref) => ref.configMapRef?.name === CONFIG_NAME)) out.push(`${where}: does not use ConfigMap ${CONFIG_NAME}`);
    for (const key of CONFIG_KEYS) if (!fromConfig.has(key)) out.push(`${where}: ${key} does not come from the ConfigMap`);

    for (const e of c.env ?? []) {
      if (SECRET_ENV.includes(e.name) && e.value !== undefined) out.push(`${where}: ${e.name} is set inline, not from a Secret`);
      const ref = e.valueFrom?.secretKeyRef;
      if (!ref) continue;
      const secret = secrets.find((s) => s.metadata.name === ref.name);
      if (!secret) out.push(`${where}: Secret ${ref.name} does not exist`);
      else if (!(ref.key in { ...secret.data, ...secret.stringData })) out.push(`${where}: Secret ${ref.name} has no key ${ref.key}`);
    }
    for (const key of spec.secretKeys) {
      if (!c.env?.some((e) => e.name === key && e.valueFrom?.secretKeyRef?.name === SECRET_NAME)) {
        out.push(`${where}: ${key} does not come from Secret ${SECRET_NAME}`);
      }
    }
    if (envValue(c, 'NATS_USER') !== spec.natsUser) out.push(`${where}: NATS_USER is ${String(envValue(c, 'NATS_USER'))}, expected ${spec.natsUser}`);
    const natsPassword = c.env?.find((e) => e.name === 'NATS_PASSWORD')?.valueFrom?.secretKeyRef;
    if (natsPassword?.name !== SECRET_NAME || natsPassword.key !== natsPasswordVariable(spec.natsUser)) {
      out.push(`${where}: NATS_PASSWORD does not come from ${SECRET_NAME} key ${natsPasswordVariable(spec.natsUser)}`);
    }
    for (const key of SECRET_ENV.filter((k) => !spec.secretKeys.includes(k) && k !== 'NATS_PASSWORD')) {
      if (c.env?.some((e) => e.name === key)) out.push(`${where}: gets ${key} although it does not need it`);
    }

    const annotations = d.spec.template.metadata.annotations ?? {};
    if (annotations['prometheus.io/scrape'] !== 'true') out.push(`${where}: not marked for Prometheus scraping`);
    if (annotations['prometheus.io/port'] !== String(spec.port)) out.push(`${where}: prometheus.io/port is not ${spec.port}`);
    if (annotations['prometheus.io/path'] !== '/metrics') out.push(`${where}: prometheus.io/path is not /metrics`);
  }
  return out;
}

function namespaceViolations(objects: K8sObject[]): string[] {
  const out: string[] = [];
  const ns = objects.find((o) => o.kind === 'Namespace' && o.metadata.name === NAMESPACE);
  if (!ns) out.push(`no Namespace ${NAMESPACE}`);
  else if (ns.metadata.labels?.['pod-security.kubernetes.io/enforce'] !== 'restricted') {
    out.push(`Namespace ${NAMESPACE} does not enforce the restricted Pod Security Standard`);
  }
  for (const o of objects) {
    if (CLUSTER_SCOPED.has(o.kind)) {
      if (o.kind !== 'Namespace') out.push(`${o.kind}/${o.metadata.name}: cluster-scoped objects are not expected`);
    } else if (o.metadata.namespace !== NAMESPACE) {
      out.push(`${o.kind}/${o.metadata.name}: namespace ${String(o.metadata.namespace)}, expected ${NAMESPACE}`);
    }
  }
  const seen = new Set<string>();
  for (const o of objects) {
    const id = `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    if (seen.has(id)) out.push(`${id}: defined twice`);
    seen.add(id);
  }
  return out;
}

function rbacViolations(objects: K8sObject[]): string[] {
  const out: string[] = [];
  const roles = ofKind<K8sObject & { rules?: PolicyRule[] }>(objects, 'Role');
  const bindings = ofKind<RoleBinding>(objects, 'RoleBinding');
  const accounts = ofKind<K8sObject>(objects, 'ServiceAccount');
  for (const role of roles) {
    for (const rule of role.rules ?? []) {
      if ([...(rule.apiGroups ?? []), ...(rule.resources ?? []), ...(rule.verbs ?? [])].includes('*')) {
        out.push(`Role/${role.metadata.name}: wildcard rule`);
      }
      if (rule.resources?.includes('secrets')) out.push(`Role/${role.metadata.name}: grants access to secrets`);
    }
  }
  for (const d of deploymentsOf(objects)) {
    const pod = d.spec.template.spec;
    const where = `Deployment/${d.metadata.name}`;
    if (d.metadata.name !== 'ops') {
      if (pod.automountServiceAccountToken !== false) out.push(`${where}: mounts an API token it does not need`);
      continue;
    }
    const sa = pod.serviceAccountName;
    if (sa === undefined || !accounts.some((a) => a.metadata.name === sa)) {
      out.push(`${where}: serviceAccountName ${String(sa)} is not a ServiceAccount in the render`);
      continue;
    }
    if (pod.automountServiceAccountToken === false) out.push(`${where}: needs its API token but does not mount it`);
    const granted = bindings
      .filter((b) => b.subjects?.some((s) => s.kind === 'ServiceAccount' && s.name === sa && s.namespace === NAMESPACE))
      .flatMap((b) => {
        if (b.roleRef.kind !== 'Role') out.push(`RoleBinding/${b.metadata.name}: binds a ${b.roleRef.kind}; ops needs only a namespaced Role`);
        return roles.filter((r) => r.metadata.name === b.roleRef.name).flatMap((r) => r.rules ?? []);
      });
    const scale = granted.filter((r) => r.apiGroups?.includes('apps') && r.resources?.includes('deployments/scale'));
    for (const verb of ['get', 'patch', 'update']) {
      if (!scale.some((r) => r.verbs?.includes(verb))) out.push(`${where}: cannot ${verb} deployments/scale`);
    }
  }
  return out;
}

interface PersistentVolumeClaim extends K8sObject {
  spec: { accessModes?: string[]; resources?: { requests?: { storage?: string } } };
}

/**
 * ACT's ledger checkpoints: ACT_LEDGER_CHECKPOINT_DIR is the mount of a PersistentVolumeClaim in
 * the render (an emptyDir would lose them with the pod), ReadWriteMany when ACT runs more than one
 * replica (verify on any replica must read the latest checkpoint whichever replica wrote it).
 */
function checkpointViolations(objects: K8sObject[]): string[] {
  const out: string[] = [];
  const act = deploymentsOf(objects).find((d) => d.metadata.name === 'act');
  const c = act && appContainer(act);
  if (!act || !c) return ['no act Deployment'];
  const dir = envValue(c, 'ACT_LEDGER_CHECKPOINT_DIR');
  if (!dir) return ['Deployment/act: no ACT_LEDGER_CHECKPOINT_DIR'];
  const mount = c.volumeMounts?.find((m) => m.mountPath === dir);
  const volume = act.spec.template.spec.volumes?.find((v) => v.name === mount?.name);
  const claimName = volume?.persistentVolumeClaim?.claimName;
  if (!claimName) return [`Deployment/act: ACT_LEDGER_CHECKPOINT_DIR ${dir} is not on a PersistentVolumeClaim`];
  const claim = ofKind<PersistentVolumeClaim>(objects, 'PersistentVolumeClaim').find((pvc) => pvc.metadata.name === claimName);
  if (!claim) return [`Deployment/act: PersistentVolumeClaim ${claimName} is not part of the render`];
  if ((act.spec.replicas ?? 1) > 1 && !claim.spec.accessModes?.includes('ReadWriteMany')) {
    out.push(`PersistentVolumeClaim/${claimName}: ${act.spec.replicas} act replicas share it, but it is not ReadWriteMany`);
  }
  return out;
}

function allViolations(objects: K8sObject[], secrets: DataObject[]): string[] {
  return [
    ...probeViolations(objects),
    ...resourceViolations(objects),
    ...securityViolations(objects),
    ...serviceViolations(objects),
    ...pdbViolations(objects),
    ...wiringViolations(objects, secrets),
    ...namespaceViolations(objects),
    ...rbacViolations(objects),
    ...checkpointViolations(objects),
  ];
}

/** The Secret that operators create from secret.example.yaml, for renders that do not include it. */
function exampleSecret(): DataObject {
  const [secret] = loadManifests(SECRET_EXAMPLE);
  return secret as DataObject;
}

/** Secrets present at run time: those rendered, else the out-of-band one described by the example. */
function runtimeSecrets(objects: K8sObject[]): DataObject[] {
  const rendered = ofKind<DataObject>(objects, 'Secret');
  return rendered.some((s) => s.metadata.name === SECRET_NAME) ? rendered : [...rendered, exampleSecret()];
}

function findFiles(dir: string, match: (name: string) => boolean): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return findFiles(path, match);
    return match(entry.name) ? [path] : [];
  });
}

function overlayDirs(): string[] {
  return readdirSync(OVERLAYS, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => join(OVERLAYS, e.name));
}

const TARGETS: [string, string][] = [BASE, ...overlayDirs()].map((d): [string, string] => [rel(d), d]);

/** Renders at collection time without aborting the suite, so a broken tree fails one named test. */
function tryRender(dir: string): Rendered & { error?: unknown } {
  try {
    return render(dir);
  } catch (error) {
    return { objects: [], files: new Set(), error };
  }
}

// ---------------------------------------------------------------------------

describe('Kubernetes manifests', () => {
  describe('kustomization tree', () => {
    it('finds every path listed in every kustomization under deploy/', () => {
      const problems: string[] = [];
      for (const file of findFiles(DEPLOY, (n) => /^kustomization\.ya?ml$/.test(n))) {
        const k = parse(readFileSync(file, 'utf8')) as Kustomization;
        const listed = [...(k.resources ?? []), ...(k.patches ?? []).flatMap((p) => (p.path ? [p.path] : []))];
        for (const entry of listed) {
          if (!existsSync(resolve(dirname(file), entry))) problems.push(`${rel(file)}: ${entry} does not exist`);
        }
      }
      expect(problems).toEqual([]);
    });

    it.each(TARGETS)('uses every manifest under %s in its render when the file is not an example', (_name, dir) => {
      const { files } = render(dir);
      const orphans = findFiles(dir, (n) => /\.ya?ml$/.test(n))
        .filter((f) => !f.endsWith('.example.yaml') && !files.has(f))
        .map(rel);
      expect(orphans).toEqual([]);
    });

    it('throws when a kustomization lists a file that does not exist', () => {
      const dir = mkdtempSync(join(tmpdir(), 'hms-kustomize-'));
      try {
        writeFileSync(join(dir, 'kustomization.yaml'), 'resources:\n  - missing.yaml\n');
        expect(() => render(dir)).toThrow(/missing\.yaml does not exist/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('throws when a kustomization uses a field the renderer does not model', () => {
      const dir = mkdtempSync(join(tmpdir(), 'hms-kustomize-'));
      try {
        writeFileSync(join(dir, 'kustomization.yaml'), 'commonLabels:\n  a: b\n');
        expect(() => render(dir)).toThrow(/not modelled/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe.each(TARGETS)('render of %s', (_name, dir) => {
    const { objects, error } = tryRender(dir);
    const secrets = runtimeSecrets(objects);

    it('renders without errors when every referenced file exists and every field is modelled', () => {
      if (error !== undefined) throw error;
    });

    it('renders the four Deployments with their Services and PDBs', () => {
      expect(deploymentsOf(objects).map((d) => d.metadata.name).sort()).toEqual([...SERVICE_NAMES].sort());
      expect(ofKind(objects, 'Service')).toHaveLength(SERVICE_NAMES.length);
      expect(ofKind(objects, 'PodDisruptionBudget')).toHaveLength(SERVICE_NAMES.length);
    });

    it('takes pods out of rotation when /health/ready fails and restarts them only when /health/live fails', () => {
      expect(probeViolations(objects)).toEqual([]);
    });

    it('sets cpu and memory requests and limits when it defines a container', () => {
      expect(resourceViolations(objects)).toEqual([]);
    });

    it('runs every container as uid 10001, read-only, without privileges when it is scheduled', () => {
      expect(securityViolations(objects)).toEqual([]);
    });

    it('routes each Service to exactly one Deployment when selectors are compared with pod labels', () => {
      expect(serviceViolations(objects)).toEqual([]);
    });

    it('guards each Deployment with one PodDisruptionBudget that never blocks a drain', () => {
      expect(pdbViolations(objects)).toEqual([]);
    });

    it('wires APP, PORT, the ConfigMap and only the needed Secret keys into each service', () => {
      expect(wiringViolations(objects, secrets)).toEqual([]);
    });

    it('keeps every object in the hms namespace under the restricted Pod Security Standard', () => {
      expect(namespaceViolations(objects)).toEqual([]);
    });

    it('lets only ops scale Deployments, and nothing more, when RBAC is applied', () => {
      expect(rbacViolations(objects)).toEqual([]);
    });

    it("keeps ACT's ledger checkpoints on a claim every ACT replica shares", () => {
      expect(checkpointViolations(objects)).toEqual([]);
    });

    (KUBECTL ? it : it.skip)('finds the same objects and no violations when kubectl kustomize renders it', () => {
      const fromKubectl = kubectlRender(dir);
      expect(fromKubectl).toBeDefined();
      const ids = (list: K8sObject[]): string[] => list.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`).sort();
      expect(ids(fromKubectl ?? [])).toEqual(ids(objects));
      const shape = (list: K8sObject[]): Record<string, unknown> =>
        Object.fromEntries(deploymentsOf(list).map((d) => [d.metadata.name, { replicas: d.spec.replicas, images: containersOf(d).map((c) => c.image) }]));
      expect(shape(fromKubectl ?? [])).toEqual(shape(objects));
      expect(allViolations(fromKubectl ?? [], runtimeSecrets(fromKubectl ?? []))).toEqual([]);
    });
  });

  describe('base', () => {
    const { objects } = tryRender(BASE);

    it('runs two replicas of each service when no overlay changes it', () => {
      for (const d of deploymentsOf(objects)) expect({ [d.metadata.name]: d.spec.replicas }).toEqual({ [d.metadata.name]: 2 });
    });

    it('leaves hms-secrets out of the render so that applying never overwrites the real Secret', () => {
      expect(ofKind(objects, 'Secret')).toEqual([]);
    });

    it('puts NATS_URL, LOG_LEVEL and the OTLP endpoint in the shared ConfigMap', () => {
      const cm = ofKind<DataObject>(objects, 'ConfigMap').find((c) => c.metadata.name === CONFIG_NAME);
      expect(Object.keys(cm?.data ?? {})).toEqual(expect.arrayContaining(CONFIG_KEYS));
      expect(cm?.data?.NATS_URL).toMatch(/^nats:\/\/[^/]+:4222$/);
      expect(cm?.data?.OTEL_EXPORTER_OTLP_ENDPOINT).toMatch(/^https?:\/\/[^/]+:4318$/);
    });

    it('marks every value of the example Secret as a placeholder to replace', () => {
      const secret = exampleSecret();
      expect(secret.kind).toBe('Secret');
      expect(secret.metadata.name).toBe(SECRET_NAME);
      expect(Object.keys(secret.stringData ?? {}).sort()).toEqual([...SECRET_KEYS].sort());
      for (const value of Object.values(secret.stringData ?? {})) expect(value).toMatch(/replace/i);
    });
  });

  describe('overlays', () => {
    const base = tryRender(BASE);
    const baseReplicas = Object.fromEntries(deploymentsOf(base.objects).map((d) => [d.metadata.name, d.spec.replicas ?? 1]));

    it.each(overlayDirs().map((d) => [rel(d), d]))('builds %s on top of deploy/base', (_name, dir) => {
      const { k } = readKustomization(dir);
      expect((k.resources ?? []).map((r) => resolve(dir, r))).toContain(BASE);
    });

    it('runs more replicas than the base and a pinned image tag when rendering prod', () => {
      const prod = render(join(OVERLAYS, 'prod'));
      for (const d of deploymentsOf(prod.objects)) {
        expect({ [d.metadata.name]: (d.spec.replicas ?? 1) > baseReplicas[d.metadata.name] }).toEqual({ [d.metadata.name]: true });
        // A tag other than latest, or a digest: a rollout must not change what runs.
        for (const c of containersOf(d)) expect(c.image).toMatch(/(:(?!latest$)\w[\w.-]*|@sha256:[0-9a-f]{64})$/);
      }
    });

    it('generates a throwaway hms-secrets when rendering dev', () => {
      const dev = render(join(OVERLAYS, 'dev'));
      const secret = ofKind<DataObject>(dev.objects, 'Secret').find((s) => s.metadata.name === SECRET_NAME);
      expect(Object.keys(secret?.data ?? {}).sort()).toEqual([...SECRET_KEYS].sort());
    });
  });

  describe('policy checks', () => {
    // These prove the checks above fail when a manifest is broken.
    const fresh = (): K8sObject[] => render(BASE).objects;
    const deployment = (objects: K8sObject[], name: string): Deployment => {
      const d = deploymentsOf(objects).find((x) => x.metadata.name === name);
      if (!d) throw new Error(`no Deployment ${name}`);
      return d;
    };

    it('reports a violation when a Deployment has no readiness probe', () => {
      const objects = fresh();
      delete deployment(objects, 'oms').spec.template.spec.containers[0].readinessProbe;
      expect(probeViolations(objects)).toEqual(['Deployment/oms container oms: no HTTP readiness probe']);
    });

    it('reports a violation when liveness probes the readiness path', () => {
      const objects = fresh();
      const probe = deployment(objects, 'act').spec.template.spec.containers[0].livenessProbe;
      if (probe?.httpGet) probe.httpGet.path = '/health/ready';
      expect(probeViolations(objects)).toHaveLength(1);
    });

    it('reports a violation when a container may run as root', () => {
      const objects = fresh();
      const c = deployment(objects, 'ops').spec.template.spec.containers[0];
      c.securityContext = { ...c.securityContext, runAsUser: 0, allowPrivilegeEscalation: true };
      expect(securityViolations(objects)).toHaveLength(2);
    });

    it('reports a violation when a memory limit is missing', () => {
      const objects = fresh();
      delete deployment(objects, 'api-gateway').spec.template.spec.containers[0].resources?.limits?.memory;
      expect(resourceViolations(objects)).toEqual(['Deployment/api-gateway container api-gateway: no memory limit']);
    });

    it('reports a violation when a PDB selector misses the pod labels', () => {
      const objects = fresh();
      const pdb = ofKind<PodDisruptionBudget>(objects, 'PodDisruptionBudget').find((p) => p.metadata.name === 'act');
      if (pdb?.spec.selector?.matchLabels) pdb.spec.selector.matchLabels['app.kubernetes.io/name'] = 'acts';
      expect(pdbViolations(objects)).toEqual(
        expect.arrayContaining(['Deployment/act: no PodDisruptionBudget', 'PodDisruptionBudget/act: selector matches 0 Deployments, expected exactly 1']),
      );
    });

    it('reports a violation when minAvailable equals the replica count', () => {
      const objects = fresh();
      const pdb = ofKind<PodDisruptionBudget>(objects, 'PodDisruptionBudget').find((p) => p.metadata.name === 'oms');
      if (pdb) pdb.spec = { minAvailable: 2, selector: pdb.spec.selector };
      expect(pdbViolations(objects)).toEqual(['PodDisruptionBudget/oms: minAvailable 2 with 2 replica(s) of oms blocks drains']);
    });

    it('reports a violation when a Service selector misses the pod labels', () => {
      const objects = fresh();
      const svc = ofKind<Service>(objects, 'Service').find((s) => s.metadata.name === 'ops');
      if (svc?.spec.selector) svc.spec.selector['app.kubernetes.io/name'] = 'opz';
      expect(serviceViolations(objects)).toHaveLength(2);
    });

    it('reports a violation when the database credentials reach the gateway, which does not need them', () => {
      const objects = fresh();
      deployment(objects, 'api-gateway').spec.template.spec.containers[0].env?.push({
        name: 'DATABASE_URL',
        valueFrom: { secretKeyRef: { name: SECRET_NAME, key: 'DATABASE_URL' } },
      });
      expect(wiringViolations(objects, runtimeSecrets(objects))).toEqual(['Deployment/api-gateway: gets DATABASE_URL although it does not need it']);
    });

    it('reports a violation when the schema owner, the checkpoint key or the webhook secret reaches a service that does not need it, or is set inline', () => {
      const objects = fresh();
      const env = (name: string) => deployment(objects, name).spec.template.spec.containers[0].env!;
      env('api-gateway').push({ name: 'DATABASE_MIGRATION_URL', valueFrom: { secretKeyRef: { name: SECRET_NAME, key: 'DATABASE_MIGRATION_URL' } } });
      env('oms').push({ name: 'ACT_LEDGER_CHECKPOINT_KEY', valueFrom: { secretKeyRef: { name: SECRET_NAME, key: 'ACT_LEDGER_CHECKPOINT_KEY' } } });
      const webhook = env('ops').find((e) => e.name === 'OPS_WEBHOOK_SECRET')!;
      delete webhook.valueFrom;
      webhook.value = 'inline-webhook-secret';
      expect(wiringViolations(objects, runtimeSecrets(objects))).toEqual([
        'Deployment/oms: gets ACT_LEDGER_CHECKPOINT_KEY although it does not need it',
        'Deployment/ops: OPS_WEBHOOK_SECRET is set inline, not from a Secret',
        `Deployment/ops: OPS_WEBHOOK_SECRET does not come from Secret ${SECRET_NAME}`,
        'Deployment/api-gateway: gets DATABASE_MIGRATION_URL although it does not need it',
      ]);
    });

    it('reports a violation when the checkpoint folder is an emptyDir, or a claim the replicas cannot share', () => {
      const objects = fresh();
      const pvc = ofKind<PersistentVolumeClaim>(objects, 'PersistentVolumeClaim')[0]!;
      pvc.spec.accessModes = ['ReadWriteOnce'];
      expect(checkpointViolations(objects)).toEqual(['PersistentVolumeClaim/act-ledger-checkpoints: 2 act replicas share it, but it is not ReadWriteMany']);
      const volume = deployment(objects, 'act').spec.template.spec.volumes!.find((v) => v.name === 'checkpoints')!;
      delete volume.persistentVolumeClaim;
      volume.emptyDir = {};
      expect(checkpointViolations(objects)).toEqual(['Deployment/act: ACT_LEDGER_CHECKPOINT_DIR /var/lib/hms/checkpoints is not on a PersistentVolumeClaim']);
    });

    it("reports a violation when a service connects to NATS with another service's password", () => {
      const objects = fresh();
      const password = deployment(objects, 'ops').spec.template.spec.containers[0].env?.find((e) => e.name === 'NATS_PASSWORD');
      if (password?.valueFrom?.secretKeyRef) password.valueFrom.secretKeyRef.key = natsPasswordVariable('oms');
      expect(wiringViolations(objects, runtimeSecrets(objects))).toEqual([`Deployment/ops: NATS_PASSWORD does not come from ${SECRET_NAME} key ${natsPasswordVariable('ops')}`]);
    });

    it('reports a violation when the ops Role is widened to a wildcard', () => {
      const objects = fresh();
      const role = ofKind<K8sObject & { rules: PolicyRule[] }>(objects, 'Role')[0];
      role.rules[0].verbs = ['*'];
      expect(rbacViolations(objects)).toEqual(expect.arrayContaining(['Role/hms-ops-scaler: wildcard rule']));
    });
  });
});

describe('Kubernetes examples', () => {
  const examples = join(DEPLOY, 'examples');

  it('scales a worker Deployment on hms_tasks_queued for one pool when KEDA reads Prometheus', () => {
    const [so] = loadManifests(join(examples, 'keda-scaledobject.yaml'));
    const spec = so.spec as {
      scaleTargetRef: { kind?: string; name: string };
      minReplicaCount?: number;
      maxReplicaCount: number;
      triggers: { type: string; metadata: Record<string, string> }[];
    };
    expect(so.apiVersion).toBe('keda.sh/v1alpha1');
    expect(so.kind).toBe('ScaledObject');
    expect(so.metadata.namespace).toBe(NAMESPACE);
    expect(spec.scaleTargetRef.kind ?? 'Deployment').toBe('Deployment');
    expect(spec.maxReplicaCount).toBeGreaterThan(spec.minReplicaCount ?? 1);
    const prom = spec.triggers.find((t) => t.type === 'prometheus');
    expect(prom?.metadata.query).toMatch(/hms_tasks_queued\{pool="[^"]+"\}/);
    expect(prom?.metadata.serverAddress).toMatch(/^https?:\/\//);
    expect(Number(prom?.metadata.threshold)).toBeGreaterThan(0);
  });

  it('scales on the external hms_tasks_queued metric for one pool when an HPA is used instead', () => {
    const [hpa] = loadManifests(join(examples, 'worker-hpa.yaml'));
    const spec = hpa.spec as {
      scaleTargetRef: { kind: string };
      minReplicas: number;
      maxReplicas: number;
      metrics: { type: string; external?: { metric: { name: string; selector?: { matchLabels?: Labels } } } }[];
    };
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(spec.scaleTargetRef.kind).toBe('Deployment');
    expect(spec.minReplicas).toBeGreaterThanOrEqual(1);
    const external = spec.metrics.find((m) => m.type === 'External')?.external?.metric;
    expect(external?.name).toBe('hms_tasks_queued');
    expect(external?.selector?.matchLabels?.pool).toBeTruthy();
  });

  it('gives the NATS Helm chart the generated users, each password from the nats Secret', () => {
    const values = readYamlFile(join(examples, 'nats-values.yaml')) as {
      config: { merge?: { authorization?: { users?: unknown[] } } };
      container: { env?: Record<string, { valueFrom?: { secretKeyRef?: { key?: string } } }> };
    };
    const expected = natsUserEntries(generatedNatsAuthSpec('')).map((user) => ({ ...user, password: `<< $${natsPasswordVariable(user.user)} >>` }));
    expect(values.config.merge?.authorization?.users).toEqual(expected);
    for (const user of expected) {
      expect(values.container.env?.[natsPasswordVariable(user.user)]?.valueFrom?.secretKeyRef?.key).toBe(natsPasswordVariable(user.user));
    }
  });

  it('asks the NATS Helm chart for 3 JetStream servers that fsync before acknowledging', () => {
    const values = readYamlFile(join(examples, 'nats-values.yaml')) as {
      config: { cluster: { enabled: boolean; replicas: number }; jetstream: { enabled: boolean; merge?: Record<string, unknown> } };
    };
    expect(values.config.cluster).toMatchObject({ enabled: true, replicas: 3 });
    expect(values.config.jetstream.enabled).toBe(true);
    expect(values.config.jetstream.merge?.sync_interval).toBe('always');
  });
});
