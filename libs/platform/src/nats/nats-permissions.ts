import { randomBytes } from 'node:crypto';
import { BotRpcSubjects, EventStream, RpcRequestClasses, serviceOf, ServiceNames, ServiceRpcCalls, SignalSubjects, type RpcSubject, type ServiceName } from '@hms/contracts';

/** A NATS user: its name and password (the password is a secret of the deployment). */
export interface NatsUser {
  user: string;
  password: string;
}

/** Who may connect to a deployment's NATS: one user per service, the gateway, and the bots. */
export interface NatsAuthSpec {
  /**
   * The deployment's `HMS_SUBJECT_PREFIX`, or `'*'` for a server shared by runs that each have a
   * prefix of their own (the test runner): permissions then hold for any one-token prefix.
   */
  prefix: string;
  services: { [N in ServiceName | 'gateway']: NatsUser };
  bots: NatsUser[];
}

/** The permissions block of one NATS user, as nats-server's config takes it. */
export interface NatsPermissions {
  publish: { allow: string[] };
  subscribe: { allow: string[] };
  /** Lets a service answer the requests it received (publish once to their reply subject), and nothing else there. */
  allow_responses?: boolean;
}

/** The user name of the gateway in {@link NatsAuthSpec} and in the generated config. */
export const GATEWAY_NATS_USER = 'gateway';

/**
 * The inbox prefix of a user: replies to its requests come on `<prefix>.…`, and it may subscribe
 * only there, so no client reads another's replies (lease tokens travel in them).
 */
export function inboxPrefixOf(user: string): string {
  return `_INBOX_${user.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

const ANY_PREFIX = '*';

/** The wire forms of a contract subject under the spec's prefix. */
function wire(prefix: string, subject: string): string[] {
  return prefix === ANY_PREFIX ? [subject, `*.${subject}`] : [`${prefix}${subject}`];
}

function streamName(prefix: string): string {
  return prefix === ANY_PREFIX ? '*' : `${prefix.replace(/\W/g, '_').toUpperCase()}${EventStream.name}`;
}

const rpcSubjects = Object.keys(RpcRequestClasses) as RpcSubject[];

/**
 * A service may: answer its own RPC subjects, only in its queue group; call the subjects of
 * {@link ServiceRpcCalls}; publish its own events and the platform's parking events; use the
 * JetStream API on the event stream (create and read the stream, create, read and pull its
 * consumers, acknowledge). Consumers are not narrowed to the service's own durables: their
 * names live in the apps, and a service is inside the trust boundary anyway.
 */
export function servicePermissions(service: ServiceName, user: string, prefix: string): NatsPermissions {
  const stream = streamName(prefix);
  const own = rpcSubjects.filter((subject) => serviceOf(subject) === service);
  const signals = service === 'oms' ? [SignalSubjects.anyPoolTaskAvailable] : [];
  return {
    publish: {
      allow: [
        ...[`${EventStream.subjectRoot}.${service}.>`, `${EventStream.subjectRoot}.platform.>`, ...ServiceRpcCalls[service], ...signals].flatMap((subject) => wire(prefix, subject)),
        '$JS.API.INFO',
        `$JS.API.STREAM.INFO.${stream}`,
        `$JS.API.STREAM.CREATE.${stream}`,
        `$JS.API.CONSUMER.INFO.${stream}.*`,
        `$JS.API.CONSUMER.CREATE.${stream}.>`,
        `$JS.API.CONSUMER.DURABLE.CREATE.${stream}.*`,
        `$JS.API.CONSUMER.MSG.NEXT.${stream}.*`,
        `$JS.ACK.${stream}.>`,
      ],
    },
    subscribe: {
      allow: [
        // "subject queue": a subscription outside the service's queue group is refused.
        ...own.flatMap((subject) => wire(prefix, subject)).map((subject) => `${subject} ${service}`),
        ...signals.flatMap((subject) => wire(prefix, subject)),
        `${inboxPrefixOf(user)}.>`,
      ],
    },
    allow_responses: true,
  };
}

/** The gateway calls every RPC subject, and nothing else. */
export function gatewayPermissions(user: string, prefix: string): NatsPermissions {
  return {
    publish: { allow: rpcSubjects.flatMap((subject) => wire(prefix, subject)) },
    subscribe: { allow: [`${inboxPrefixOf(user)}.>`] },
  };
}

/** A bot calls what the REST API grants a worker or a service token ({@link BotRpcSubjects}), and nothing else. */
export function botPermissions(user: string, prefix: string): NatsPermissions {
  return {
    publish: { allow: BotRpcSubjects.flatMap((subject) => wire(prefix, subject)) },
    subscribe: { allow: [`${inboxPrefixOf(user)}.>`] },
  };
}

/** One entry of nats-server's `authorization.users`. */
export interface NatsUserEntry extends NatsUser {
  permissions: NatsPermissions;
}

/** Every user of a deployment with its permissions; refuses a name that would escape its inbox, or a name given twice. */
export function natsUserEntries(spec: NatsAuthSpec): NatsUserEntry[] {
  const users = [
    ...ServiceNames.map((service) => ({ ...spec.services[service], permissions: servicePermissions(service, spec.services[service].user, spec.prefix) })),
    { ...spec.services.gateway, permissions: gatewayPermissions(spec.services.gateway.user, spec.prefix) },
    ...spec.bots.map((bot) => ({ ...bot, permissions: botPermissions(bot.user, spec.prefix) })),
  ];
  const names = new Set<string>();
  for (const { user } of users) {
    if (!/^[A-Za-z0-9_-]+$/.test(user)) throw new Error(`NATS user '${user}' must be letters, digits, '-' or '_'`);
    if (names.has(user)) throw new Error(`NATS user '${user}' is named twice`);
    names.add(user);
  }
  return users;
}

/**
 * The `authorization` block of nats-server's config for a deployment: no anonymous access, and
 * each user limited as above. The output is JSON, which nats-server's config format accepts
 * (strings quoted, so `$JS…` is never read as a variable). With `passwordsFromEnv`, each password
 * is a reference to a variable of nats-server's environment ({@link natsPasswordVariable}), so
 * the text holds no secret and can be committed.
 */
export function natsAuthorizationConfig(spec: NatsAuthSpec, options: { passwordsFromEnv?: boolean } = {}): string {
  const envMark = '\u0000env:';
  const users = natsUserEntries(spec).map((user) => (options.passwordsFromEnv ? { ...user, password: `${envMark}${natsPasswordVariable(user.user)}` } : user));
  return `authorization: ${JSON.stringify({ users }, null, 2).replace(/"\\u0000env:([A-Z0-9_]+)"/g, '$$$1')}\n`;
}

/** The environment variable of nats-server holding a user's password, in a config written with `passwordsFromEnv`. */
export function natsPasswordVariable(user: string): string {
  return `HMS_NATS_PASSWORD_${user.toUpperCase().replace(/-/g, '_')}`;
}

/** A password for a generated NATS user (dev stack and tests). */
export function randomNatsPassword(): string {
  return randomBytes(18).toString('base64url');
}

/** Users with fresh passwords for every service and the gateway, and the named bots. */
export function generatedNatsAuthSpec(prefix: string, bots: string[] = []): NatsAuthSpec {
  const user = (name: string): NatsUser => ({ user: name, password: randomNatsPassword() });
  return {
    prefix,
    services: { act: user('act'), oms: user('oms'), ops: user('ops'), gateway: user(GATEWAY_NATS_USER) },
    bots: bots.map(user),
  };
}
