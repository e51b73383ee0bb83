import { createParamDecorator, Injectable, SetMetadata, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { DomainError, type Actor, type Role } from '@hms/contracts';
import { TokenVerifier, type VerifiedToken } from '@hms/platform';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RateLimits } from './rate-limits';

const ROLES_KEY = 'hms:roles';
const ACTOR = Symbol('actor');
const EXPIRES_AT = Symbol('token-expires-at');

/** Health probes are never limited: an orchestrator that cannot probe restarts a healthy gateway. */
const UNLIMITED_PREFIX = '/health';

/** The roles allowed to call a route (managers are always allowed). */
export const AllowRoles = (...roles: Role[]) => SetMetadata(ROLES_KEY, roles);

/** The authenticated caller of the current request. */
export const CurrentActor = createParamDecorator((_: unknown, context: ExecutionContext): Actor => {
  const actor = (context.switchToHttp().getRequest<FastifyRequest>() as unknown as Record<symbol, Actor>)[ACTOR];
  if (!actor) throw new DomainError('UNAUTHENTICATED', 'Not authenticated');
  return actor;
});

/** When the caller's token expires: an open stream ends then. */
export const TokenExpiresAt = createParamDecorator((_: unknown, context: ExecutionContext): Date => {
  const expiresAt = (context.switchToHttp().getRequest<FastifyRequest>() as unknown as Record<symbol, Date>)[EXPIRES_AT];
  if (!expiresAt) throw new DomainError('UNAUTHENTICATED', 'Not authenticated');
  return expiresAt;
});

/**
 * Verifies the bearer token on every `/v1` route and checks the route's roles. Routes outside
 * `/v1` (health, metrics, docs) are public; a `/v1` route without declared roles is managers-only,
 * so forgetting the decorator fails closed. Every call except health probes counts against a
 * rate limit first: its token's subject's, or its address's when it has no valid token (so
 * guessing tokens is limited too).
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly verifier: TokenVerifier,
    private readonly limits: RateLimits,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const reply = context.switchToHttp().getResponse<FastifyReply>();
    // The matched route's path as declared (`/v1/requests/:id`), not the URL as sent: the router
    // matches case-insensitively and past a trailing slash, and the URL has the query string.
    const route = request.routeOptions.url ?? request.url;
    if (route.startsWith(UNLIMITED_PREFIX)) return true;
    const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
    let claims: VerifiedToken | undefined;
    // Built only when refused: an Error captures a stack, which every accepted call would pay for.
    let refusal: unknown;
    if (match) {
      try {
        claims = await this.verifier.verify(match[1]);
      } catch (error) {
        // Answered after the address's limit is counted, so failed guesses are limited too.
        refusal = error;
      }
    }
    await this.limits.hit(claims ? { subject: claims.sub } : { address: request.ip ?? 'unknown' }, reply);
    if (!route.startsWith('/v1/')) return true;
    if (!claims) throw refusal ?? new DomainError('UNAUTHENTICATED', 'Missing bearer token (Authorization: Bearer <JWT>)');
    const actor: Actor = { id: claims.sub, roles: claims.roles, ...(claims.pools ? { pools: claims.pools } : {}) };
    (request as unknown as Record<symbol, Actor>)[ACTOR] = actor;
    (request as unknown as Record<symbol, Date>)[EXPIRES_AT] = claims.expiresAt;
    const allowed = this.allowedRoles(context.getHandler(), context.getClass());
    if (actor.roles.includes('manager') || actor.roles.some((role) => allowed.includes(role))) return true;
    throw new DomainError('FORBIDDEN', `This action needs one of the roles: ${['manager', ...allowed].join(', ')}`);
  }

  /**
   * A route's declared roles, looked up once per route: decorators are fixed when the classes
   * load, and reading them through reflect-metadata cost every call about 1 % of the gateway's CPU.
   * By class, then method: a method inherited by two controllers may be allowed differently in each.
   */
  private readonly rolesOf = new WeakMap<object, WeakMap<object, readonly Role[]>>();

  private allowedRoles(handler: object, controller: object): readonly Role[] {
    let byHandler = this.rolesOf.get(controller);
    if (!byHandler) this.rolesOf.set(controller, (byHandler = new WeakMap()));
    let allowed = byHandler.get(handler);
    if (!allowed) {
      allowed = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES_KEY, [handler as never, controller as never]) ?? [];
      byHandler.set(handler, allowed);
    }
    return allowed;
  }
}
