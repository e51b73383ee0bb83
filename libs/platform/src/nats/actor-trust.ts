import { createHmac, timingSafeEqual } from 'node:crypto';
import { assertMayUsePools, BotRpcRoles, DomainError, NatsHeaders, poolsNamedIn, Roles, type Actor, type Role, type RpcSubject } from '@hms/contracts';
import type { TokenVerifier } from '../auth/tokens';

/** Reads one header of a received message. */
export type HeaderLookup = (name: string) => string | undefined;

/** Who a received call is from, and how that is known. */
export interface CallerIdentity {
  actor: Actor;
  /** The caller's own token named it (a bot), rather than a trusted app's signature. */
  byToken: boolean;
}

/**
 * Who sent an RPC, as far as the receiver can tell. NATS does not tell a subscriber which user
 * published a message, so the `hms-actor` header alone proves nothing: anyone allowed to publish
 * on the subject could write "manager" in it. The services and the gateway share a deployment
 * key (`HMS_ACTOR_KEY`) and sign the header with the subject; a call without a valid signature
 * is believed only as far as its own access token (`hms-token`, verified like the gateway
 * verifies a bearer token) says, and without one it is UNAUTHENTICATED. A bot therefore acts
 * as itself, never as the manager it names. See docs/security.md "NATS".
 */
export class ActorTrust {
  /**
   * @param keys the signing key first, then keys whose signatures are also believed (a
   *   rotation); none means the trust-everything mode of a development NATS without users.
   */
  constructor(
    private readonly keys: string[],
    private readonly verifier?: TokenVerifier,
  ) {}

  /** The signature header value for an actor header sent on a wire subject. */
  sign(wireSubject: string, actorHeader: string): string | undefined {
    return this.keys.length > 0 ? mac(this.keys[0]!, wireSubject, actorHeader) : undefined;
  }

  /**
   * The actor of a received call of `subject` (on the wire: `wireSubject`). A caller known by its
   * token must have a role the REST API would require for the same call ({@link BotRpcRoles}).
   */
  async callerOf(subject: RpcSubject, wireSubject: string, header: HeaderLookup): Promise<CallerIdentity> {
    const actorHeader = header(NatsHeaders.actor);
    if (this.keys.length === 0) return { actor: actorHeader ? parseActor(actorHeader) : { id: 'anonymous', roles: [] }, byToken: false };
    const signature = header(NatsHeaders.actorSignature);
    if (actorHeader && signature && this.keys.some((key) => sameText(mac(key, wireSubject, actorHeader), signature))) return { actor: parseActor(actorHeader), byToken: false };
    const token = header(NatsHeaders.token);
    if (token && this.verifier) {
      const claims = await this.verifier.verify(token);
      const allowed: readonly Role[] = subject in BotRpcRoles ? BotRpcRoles[subject as keyof typeof BotRpcRoles] : [];
      if (!claims.roles.includes('manager') && !claims.roles.some((role) => allowed.includes(role))) {
        throw new DomainError('FORBIDDEN', `${subject} over NATS needs one of the roles: ${['manager', ...allowed].join(', ')}`);
      }
      return { actor: { id: claims.sub, roles: claims.roles, ...(claims.pools ? { pools: claims.pools } : {}) }, byToken: true };
    }
    throw new DomainError(
      'UNAUTHENTICATED',
      token ? 'This service does not verify access tokens (no HMS_JWT_SECRET or HMS_JWT_JWKS_URL)' : `A call over NATS needs the caller's access token in the '${NatsHeaders.token}' header`,
    );
  }
}

/**
 * The gateway's pool rule (`mayUsePool`, libs/contracts) for a bot that calls over NATS, on the pools its
 * message names ({@link poolsNamedIn}). Calls by task id are held by the lease token instead.
 */
export function assertBotPools(actor: Actor, message: object): void {
  assertMayUsePools(actor, poolsNamedIn(message));
}

function mac(key: string, wireSubject: string, actorHeader: string): string {
  return createHmac('sha256', key).update(wireSubject).update('\n').update(actorHeader).digest('base64url');
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** An actor header must be `{id, roles, pools?}` with known roles; anything else is refused rather than half-believed. */
function parseActor(header: string): Actor {
  let value: unknown;
  try {
    value = JSON.parse(header);
  } catch {
    throw new DomainError('UNAUTHENTICATED', `The '${NatsHeaders.actor}' header is not JSON`);
  }
  const actor = value as Partial<Actor> | null;
  const valid =
    typeof actor === 'object' &&
    actor !== null &&
    typeof actor.id === 'string' &&
    actor.id.length > 0 &&
    Array.isArray(actor.roles) &&
    actor.roles.every((role) => (Roles as readonly string[]).includes(role)) &&
    (actor.pools === undefined || (Array.isArray(actor.pools) && actor.pools.every((pool) => typeof pool === 'string')));
  if (!valid) throw new DomainError('UNAUTHENTICATED', `The '${NatsHeaders.actor}' header is not an actor {id, roles, pools?}`);
  return { id: actor.id!, roles: actor.roles!, ...(actor.pools ? { pools: actor.pools } : {}) };
}
