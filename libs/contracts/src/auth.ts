import { DomainError } from './errors';

/** Roles carried in the JWT `roles` claim. */
export const Roles = ['manager', 'worker', 'service'] as const;
export type Role = (typeof Roles)[number];

/** The claims of an HMS access token (HS256 or RS256/ES256). */
export interface TokenClaims {
  /** The actor: a person's or bot's id, recorded on every ledger entry they cause. */
  sub: string;
  roles: Role[];
  /** Worker tokens only: the pools it may lease from. Absent means none. */
  pools?: string[];
}

/**
 * Who is calling a service. The gateway derives it from the verified token and sends it with
 * every NATS request; services inside the trust boundary send their own.
 */
export interface Actor {
  id: string;
  roles: Role[];
  pools?: string[];
}

/** The actor used for work a service does by itself (sweeps, schedules). */
export function systemActor(service: string): Actor {
  return { id: `system:${service}`, roles: ['service'] };
}

/**
 * A caller whose only standing is `worker`: it acts as itself and nobody else. Managers act for
 * anyone; a `service` is a bot runner inside the trust boundary and may name its bot instances.
 */
export function actsOnlyAsItself(actor: Actor): boolean {
  return !actor.roles.includes('manager') && !actor.roles.includes('service');
}

/**
 * The worker a call acts as: the caller itself unless it may name another. A worker token that
 * names someone else is refused (FORBIDDEN), so one token cannot appear as many workers.
 */
export function actingWorker(actor: Actor, named: string | undefined): string {
  if (!actsOnlyAsItself(actor)) return named ?? actor.id;
  if (named !== undefined && named !== actor.id) throw new DomainError('FORBIDDEN', `Your token acts as worker '${actor.id}', not '${named}'`);
  return actor.id;
}

/**
 * Who must hold a lease for the caller to use it: the caller itself when it is a worker (the
 * token alone is not enough: a lease token seen by another worker does not make it the holder);
 * null (the lease token suffices) for managers, who may force-release, and services.
 */
export function requiredLeaseHolder(actor: Actor): string | null {
  return actsOnlyAsItself(actor) ? actor.id : null;
}

/** Whether an actor may take a lease back without its lease token: managers only. */
export function mayForceRelease(actor: Actor): boolean {
  return actor.roles.includes('manager');
}

/** Whether an actor may use a pool: managers and services every pool, a worker those its token lists. */
export function mayUsePool(actor: Actor, pool: string): boolean {
  return actor.roles.includes('manager') || actor.roles.includes('service') || (actor.pools?.includes(pool) ?? false);
}

/** FORBIDDEN unless the actor may use every one of `pools` ({@link mayUsePool}). */
export function assertMayUsePools(actor: Actor, pools: readonly string[]): void {
  const refused = pools.find((pool) => !mayUsePool(actor, pool));
  if (refused !== undefined) throw new DomainError('FORBIDDEN', `Your token does not allow pool '${refused}'`);
}

/**
 * The pools a message names: `pool` (lease, peek, pool get), `pools` (a worker heartbeat) and
 * `next.pool` (the lease a complete takes on its way out). Read before or after validation alike:
 * anything that is not a string is not a pool name (validation refuses it).
 */
export function poolsNamedIn(message: unknown): string[] {
  if (typeof message !== 'object' || message === null) return [];
  const { pool, pools, next } = message as { pool?: unknown; pools?: unknown; next?: unknown };
  const nextPool = typeof next === 'object' && next !== null ? (next as { pool?: unknown }).pool : undefined;
  return [...[pool, nextPool], ...(Array.isArray(pools) ? pools : [])].filter((name): name is string => typeof name === 'string');
}
