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

/** Whether an actor may use a pool: managers and services every pool, a worker those its token lists. */
export function mayUsePool(actor: Actor, pool: string): boolean {
  return actor.roles.includes('manager') || actor.roles.includes('service') || (actor.pools?.includes(pool) ?? false);
}
