import { BotRpcSubjects, RpcSubjects } from '@hms/contracts';
import { botPermissions, gatewayPermissions, generatedNatsAuthSpec, natsAuthorizationConfig, servicePermissions } from './nats-permissions';

describe('NATS permissions', () => {
  it('lets a service answer only its own subjects, in its queue group, and publish only its own and platform events', () => {
    const act = servicePermissions('act', 'act', 'p1.');
    expect(act.subscribe.allow).toContain('p1.act.plan.register act');
    expect(act.subscribe.allow.filter((subject) => !subject.startsWith('_INBOX_act.')).every((subject) => subject.startsWith('p1.act.') && subject.endsWith(' act'))).toBe(true);
    expect(act.publish.allow).toEqual(expect.arrayContaining(['p1.hms.evt.act.>', 'p1.hms.evt.platform.>', '$JS.API.STREAM.INFO.P1_HMS_EVENTS']));
    expect(act.publish.allow.some((subject) => /hms\.evt\.(oms|ops)/.test(subject) || subject === 'p1.hms.evt.>')).toBe(false);
    expect(act.allow_responses).toBe(true);
  });

  it('lets OPS call only the OMS subjects it needs, and OMS hear its signals without a queue', () => {
    expect(servicePermissions('ops', 'ops', '').publish.allow).toEqual(expect.arrayContaining([RpcSubjects.poolGet, RpcSubjects.poolList]));
    expect(servicePermissions('ops', 'ops', '').publish.allow).not.toContain(RpcSubjects.queueReroute);
    expect(servicePermissions('oms', 'oms', '').subscribe.allow).toContain('oms.signal.task-available.>');
  });

  it('lets a bot call only the worker and service calls of the API, and hear only its own inbox', () => {
    const bot = botPermissions('bot-1', '');
    expect(bot.publish.allow).toEqual([...BotRpcSubjects]);
    for (const managerOnly of [RpcSubjects.planRegister, RpcSubjects.queueReroute, RpcSubjects.requestCancel, RpcSubjects.poolUpsert, RpcSubjects.alertResolve]) {
      expect(bot.publish.allow).not.toContain(managerOnly);
    }
    expect(bot.subscribe.allow).toEqual(['_INBOX_bot-1.>']);
    expect(bot.allow_responses).toBeUndefined();
  });

  it('lets the gateway call every RPC subject and nothing on the event stream', () => {
    const gateway = gatewayPermissions('gateway', 'p1.');
    expect(gateway.publish.allow).toContain('p1.act.plan.register');
    expect(gateway.publish.allow.some((subject) => subject.includes('hms.evt') || subject.startsWith('$JS'))).toBe(false);
  });

  it('covers any one-token prefix on a shared server', () => {
    expect(botPermissions('b', '*').publish.allow).toEqual(expect.arrayContaining(['oms.task.lease', '*.oms.task.lease']));
  });

  it('refuses a user name that would escape its inbox or a user named twice', () => {
    expect(() => natsAuthorizationConfig({ ...generatedNatsAuthSpec(''), bots: [{ user: 'a.>', password: 'x' }] })).toThrow(/letters/);
    expect(() => natsAuthorizationConfig({ ...generatedNatsAuthSpec(''), bots: [{ user: 'act', password: 'x' }] })).toThrow(/twice/);
  });
});
