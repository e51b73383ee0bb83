import { createParamDecorator, Injectable, SetMetadata, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { DomainError, mayUsePool, type Actor, type Role } from '@hms/contracts';
import { TokenVerifier } from '@hms/platform';
import type { Request } from 'express';

const ROLES_KEY = 'hms:roles';
const ACTOR = Symbol('actor');

/** The roles allowed to call a route (managers are always allowed). */
export const AllowRoles = (...roles: Role[]) => SetMetadata(ROLES_KEY, roles);

/** The authenticated caller of the current request. */
export const CurrentActor = createParamDecorator((_: unknown, context: ExecutionContext): Actor => {
  const actor = (context.switchToHttp().getRequest<Request>() as unknown as Record<symbol, Actor>)[ACTOR];
  if (!actor) throw new DomainError('UNAUTHENTICATED', 'Not authenticated');
  return actor;
});

/** Throws FORBIDDEN unless a worker's token names the pool (managers may use every pool). */
export function assertPoolAllowed(actor: Actor, pool: string): void {
  if (!mayUsePool(actor, pool)) throw new DomainError('FORBIDDEN', `Your token does not allow pool '${pool}'`);
}

/**
 * Verifies the bearer token on every `/v1` route and checks the route's roles. Routes outside
 * `/v1` (health, metrics, docs) are public; a `/v1` route without declared roles is managers-only,
 * so forgetting the decorator fails closed.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly verifier: TokenVerifier,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<Request>();
    if (!request.path.startsWith('/v1/')) return true;
    const header = request.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new DomainError('UNAUTHENTICATED', 'Missing bearer token (Authorization: Bearer <JWT>)');
    const claims = await this.verifier.verify(match[1]);
    const actor: Actor = { id: claims.sub, roles: claims.roles, ...(claims.pools ? { pools: claims.pools } : {}) };
    (request as unknown as Record<symbol, Actor>)[ACTOR] = actor;
    const allowed = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES_KEY, [context.getHandler(), context.getClass()]) ?? [];
    if (actor.roles.includes('manager') || actor.roles.some((role) => allowed.includes(role))) return true;
    throw new DomainError('FORBIDDEN', `This action needs one of the roles: ${['manager', ...allowed].join(', ')}`);
  }
}
