import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { DomainError, type Role } from '@hms/contracts';
import { signToken, TokenVerifier } from '@hms/platform';
import type { GatewayConfig } from '../gateway.config';
import { AllowRoles, AuthGuard } from './auth.guard';
import { RateLimits } from './rate-limits';

const SECRET = 'a-test-secret-of-some-length';

class Base {
  act(): void {}
}
// One method, inherited by two controllers that allow it to different roles.
@AllowRoles('worker')
class ForWorkers extends Base {}
@AllowRoles('service')
class ForServices extends Base {}

function contextOf(token: string, controller: object): ExecutionContext {
  const request = { routeOptions: { url: '/v1/things' }, url: '/v1/things', headers: { authorization: `Bearer ${token}` }, ip: '127.0.0.1' };
  return {
    switchToHttp: () => ({ getRequest: () => request, getResponse: () => ({}) }),
    getHandler: () => Base.prototype.act,
    getClass: () => controller,
  } as unknown as ExecutionContext;
}

describe(AuthGuard.name, () => {
  const reflector = new Reflector();
  const guard = new AuthGuard(reflector, new TokenVerifier({ secret: SECRET }), new RateLimits({ HMS_RATE_LIMIT_DISABLED: true } as GatewayConfig));
  const tokenOf = (role: Role) => signToken({ sub: `a-${role}`, roles: [role] }, SECRET);
  const refusal = (promise: Promise<boolean>) => promise.then(() => undefined, (error: DomainError) => error.code);

  it("reads a route's roles once, per controller: a method two controllers inherit is allowed as each declares", async () => {
    const lookups = jest.spyOn(reflector, 'getAllAndOverride');
    const worker = await tokenOf('worker');
    const service = await tokenOf('service');
    for (let round = 0; round < 2; round += 1) {
      await expect(guard.canActivate(contextOf(worker, ForWorkers))).resolves.toBe(true);
      await expect(refusal(guard.canActivate(contextOf(worker, ForServices)))).resolves.toBe('FORBIDDEN');
      await expect(guard.canActivate(contextOf(service, ForServices))).resolves.toBe(true);
      await expect(refusal(guard.canActivate(contextOf(service, ForWorkers)))).resolves.toBe('FORBIDDEN');
    }
    expect(lookups).toHaveBeenCalledTimes(2);
  });

  it('refuses a forged token before any role is read', async () => {
    const forged = await signToken({ sub: 'x', roles: ['manager'] }, 'another-secret-of-some-length');
    await expect(refusal(guard.canActivate(contextOf(forged, ForWorkers)))).resolves.toBe('UNAUTHENTICATED');
  });
});
