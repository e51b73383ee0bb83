import { RpcSubjects, serviceOf } from '@hms/contracts';
import { routeProblems, rpcControllers } from '@hms/platform';
import { PATTERN_METADATA } from '@nestjs/microservices/constants';
import { OMS_RPC_ROUTES } from './oms.rpc';

describe('OMS RPC handlers', () => {
  it('answer every oms.* subject of the contract exactly once, each by the @MessagePattern method its route names', () => {
    const patterns = rpcControllers(OMS_RPC_ROUTES).flatMap((controller) =>
      Object.getOwnPropertyNames(controller.prototype).flatMap((name) => (Reflect.getMetadata(PATTERN_METADATA, controller.prototype[name]) ?? []) as string[]),
    );
    expect(new Set(patterns).size).toBe(patterns.length);
    expect(routeProblems(OMS_RPC_ROUTES, new Map(patterns.map((subject) => [subject, true])))).toEqual([]);
    const expected = Object.values(RpcSubjects).filter((subject) => serviceOf(subject) === 'oms');
    expect(Object.keys(OMS_RPC_ROUTES).sort()).toEqual([...expected].sort());
  });
});
