import { NatsHeaders, type Actor } from '@hms/contracts';
import { signToken, TokenVerifier } from '../auth/tokens';
import { ActorTrust, assertBotPools } from './actor-trust';

const KEY = 'k'.repeat(32);
const OLD_KEY = 'o'.repeat(32);
const SECRET = 's'.repeat(24);
const MANAGER: Actor = { id: 'manager@hms', roles: ['manager'] };
const SUBJECT = 't1.act.request.create';

const callerOf = async (trust: ActorTrust, subject: Parameters<ActorTrust['callerOf']>[0], wire: string, header: (name: string) => string | undefined) =>
  (await trust.callerOf(subject, wire, header)).actor;

const headersOf = (values: Record<string, string>) => (name: string) => values[name];

describe(ActorTrust.name, () => {
  const trust = new ActorTrust([KEY, OLD_KEY], new TokenVerifier({ secret: SECRET }));
  const signedBy = (key: string, subject = SUBJECT, actor = JSON.stringify(MANAGER)) => ({
    [NatsHeaders.actor]: actor,
    [NatsHeaders.actorSignature]: new ActorTrust([key]).sign(subject, actor)!,
  });

  it('believes an actor header signed with the current or the previous key for this subject', async () => {
    await expect(callerOf(trust, 'act.request.create', SUBJECT, headersOf(signedBy(KEY)))).resolves.toEqual(MANAGER);
    await expect(callerOf(trust, 'act.request.create', SUBJECT, headersOf(signedBy(OLD_KEY)))).resolves.toEqual(MANAGER);
  });

  it.each([
    ['no signature', { [NatsHeaders.actor]: JSON.stringify(MANAGER) }],
    ['a signature by another key', signedBy('x'.repeat(32))],
    ['a signature for another subject', signedBy(KEY, 't1.act.plan.register')],
    ['a signature of another actor', { ...signedBy(KEY), [NatsHeaders.actor]: JSON.stringify({ ...MANAGER, id: 'other' }) }],
    ['nothing at all', {}],
  ])('answers UNAUTHENTICATED to %s and no token', async (_, headers) => {
    await expect(callerOf(trust, 'act.request.create', SUBJECT, headersOf(headers))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it("takes a bot's identity from its own token, not from the actor header it sends beside it", async () => {
    const token = await signToken({ sub: 'bot-1', roles: ['service'] }, SECRET);
    await expect(callerOf(trust, 'act.request.create', SUBJECT, headersOf({ [NatsHeaders.actor]: JSON.stringify(MANAGER), [NatsHeaders.token]: token }))).resolves.toEqual({ id: 'bot-1', roles: ['service'] });
  });

  it("answers FORBIDDEN to a token whose roles the REST API would refuse for the same call", async () => {
    const worker = await signToken({ sub: 'bot-1', roles: ['worker'], pools: ['a'] }, SECRET);
    await expect(callerOf(trust, 'act.request.create', SUBJECT, headersOf({ [NatsHeaders.token]: worker }))).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(callerOf(trust, 'oms.task.lease', 't1.oms.task.lease', headersOf({ [NatsHeaders.token]: worker }))).resolves.toMatchObject({ id: 'bot-1', pools: ['a'] });
    const service = await signToken({ sub: 'bot-2', roles: ['service'] }, SECRET);
    await expect(callerOf(trust, 'act.plan.register', 't1.act.plan.register', headersOf({ [NatsHeaders.token]: service }))).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it('refuses a token not signed with the deployment secret', async () => {
    const token = await signToken({ sub: 'manager@hms', roles: ['manager'] }, 'someone-elses-secret');
    await expect(callerOf(trust, 'act.request.create', SUBJECT, headersOf({ [NatsHeaders.token]: token }))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('refuses a signed header that is not an actor, rather than half-believing it', async () => {
    for (const actor of ['{"id":7,"roles":[]}', '{"id":"a","roles":["root"]}', 'not json', '{"id":"a","roles":[],"pools":[1]}']) {
      await expect(callerOf(trust, 'act.request.create', SUBJECT, headersOf(signedBy(KEY, SUBJECT, actor)))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    }
  });

  it('believes the header as it is when no key is configured (a development NATS without users)', async () => {
    const open = new ActorTrust([]);
    expect(open.sign(SUBJECT, '{}')).toBeUndefined();
    await expect(callerOf(open, 'act.request.create', SUBJECT, headersOf({ [NatsHeaders.actor]: JSON.stringify(MANAGER) }))).resolves.toEqual(MANAGER);
    await expect(callerOf(open, 'act.request.create', SUBJECT, headersOf({}))).resolves.toEqual({ id: 'anonymous', roles: [] });
  });
});

describe(assertBotPools.name, () => {
  const worker: Actor = { id: 'bot-1', roles: ['worker'], pools: ['a'] };

  it.each([
    ['a lease in its pool', worker, { pool: 'a' }, true],
    ['a lease in another pool', worker, { pool: 'b' }, false],
    ['a heartbeat naming another pool among its own', worker, { pools: ['a', 'b'] }, false],
    ['a call by task id', worker, { taskId: 't1' }, true],
    ['a complete whose next lease is in its pool', worker, { taskId: 't1', next: { pool: 'a' } }, true],
    ['a complete whose next lease is in another pool', worker, { taskId: 't1', next: { pool: 'b' } }, false],
    ['a worker token without pools', { id: 'w', roles: ['worker'] } as Actor, { pool: 'a' }, false],
    ['a service token in any pool', { id: 's', roles: ['service'] } as Actor, { pool: 'z' }, true],
  ])('%s: allowed %s', (_, actor, message, allowed) => {
    if (allowed) expect(() => assertBotPools(actor, message)).not.toThrow();
    else expect(() => assertBotPools(actor, message)).toThrow(expect.objectContaining({ code: 'FORBIDDEN' }));
  });
});
