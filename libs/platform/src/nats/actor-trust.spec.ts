import { NatsHeaders, type Actor } from '@hms/contracts';
import { signToken, TokenVerifier } from '../auth/tokens';
import { ActorTrust } from './actor-trust';

const KEY = 'k'.repeat(32);
const OLD_KEY = 'o'.repeat(32);
const SECRET = 's'.repeat(24);
const MANAGER: Actor = { id: 'manager@hms', roles: ['manager'] };
const SUBJECT = 't1.act.request.create';

const headersOf = (values: Record<string, string>) => (name: string) => values[name];

describe(ActorTrust.name, () => {
  const trust = new ActorTrust([KEY, OLD_KEY], new TokenVerifier({ secret: SECRET }));
  const signedBy = (key: string, subject = SUBJECT, actor = JSON.stringify(MANAGER)) => ({
    [NatsHeaders.actor]: actor,
    [NatsHeaders.actorSignature]: new ActorTrust([key]).sign(subject, actor)!,
  });

  it('believes an actor header signed with the current or the previous key for this subject', async () => {
    await expect(trust.actorOf('act.request.create', SUBJECT, headersOf(signedBy(KEY)))).resolves.toEqual(MANAGER);
    await expect(trust.actorOf('act.request.create', SUBJECT, headersOf(signedBy(OLD_KEY)))).resolves.toEqual(MANAGER);
  });

  it.each([
    ['no signature', { [NatsHeaders.actor]: JSON.stringify(MANAGER) }],
    ['a signature by another key', signedBy('x'.repeat(32))],
    ['a signature for another subject', signedBy(KEY, 't1.act.plan.register')],
    ['a signature of another actor', { ...signedBy(KEY), [NatsHeaders.actor]: JSON.stringify({ ...MANAGER, id: 'other' }) }],
    ['nothing at all', {}],
  ])('answers UNAUTHENTICATED to %s and no token', async (_, headers) => {
    await expect(trust.actorOf('act.request.create', SUBJECT, headersOf(headers))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it("takes a bot's identity from its own token, not from the actor header it sends beside it", async () => {
    const token = await signToken({ sub: 'bot-1', roles: ['service'] }, SECRET);
    await expect(trust.actorOf('act.request.create', SUBJECT, headersOf({ [NatsHeaders.actor]: JSON.stringify(MANAGER), [NatsHeaders.token]: token }))).resolves.toEqual({ id: 'bot-1', roles: ['service'] });
  });

  it("answers FORBIDDEN to a token whose roles the REST API would refuse for the same call", async () => {
    const worker = await signToken({ sub: 'bot-1', roles: ['worker'], pools: ['a'] }, SECRET);
    await expect(trust.actorOf('act.request.create', SUBJECT, headersOf({ [NatsHeaders.token]: worker }))).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(trust.actorOf('oms.task.lease', 't1.oms.task.lease', headersOf({ [NatsHeaders.token]: worker }))).resolves.toMatchObject({ id: 'bot-1', pools: ['a'] });
    const service = await signToken({ sub: 'bot-2', roles: ['service'] }, SECRET);
    await expect(trust.actorOf('act.plan.register', 't1.act.plan.register', headersOf({ [NatsHeaders.token]: service }))).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it('refuses a token not signed with the deployment secret', async () => {
    const token = await signToken({ sub: 'manager@hms', roles: ['manager'] }, 'someone-elses-secret');
    await expect(trust.actorOf('act.request.create', SUBJECT, headersOf({ [NatsHeaders.token]: token }))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('refuses a signed header that is not an actor, rather than half-believing it', async () => {
    for (const actor of ['{"id":7,"roles":[]}', '{"id":"a","roles":["root"]}', 'not json', '{"id":"a","roles":[],"pools":[1]}']) {
      await expect(trust.actorOf('act.request.create', SUBJECT, headersOf(signedBy(KEY, SUBJECT, actor)))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    }
  });

  it('believes the header as it is when no key is configured (a development NATS without users)', async () => {
    const open = new ActorTrust([]);
    expect(open.sign(SUBJECT, '{}')).toBeUndefined();
    await expect(open.actorOf('act.request.create', SUBJECT, headersOf({ [NatsHeaders.actor]: JSON.stringify(MANAGER) }))).resolves.toEqual(MANAGER);
    await expect(open.actorOf('act.request.create', SUBJECT, headersOf({}))).resolves.toEqual({ id: 'anonymous', roles: [] });
  });
});
