import { randomBytes } from 'node:crypto';
import { connect, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { EventStream, NatsHeaders, type Actor } from '@hms/contracts';
import { inboxPrefixOf, RpcClient, signToken, type NatsAuthSpec, type NatsUser } from '@hms/platform';
import { connectTestBus, testInfra, testNatsAuth, testNatsUser } from '@hms/testing';
import { eventually, rpcError, startAct, type ActHarness } from '../testing/act-harness';

jest.setTimeout(30_000);

const MANAGER: Actor = { id: 'manager@hms', roles: ['manager'] };

/** A raw client of the server as one of its users (or anonymous), with that user's inbox prefix. */
function connectAs(url: string, user?: NatsUser): Promise<NatsConnection> {
  return connect({ servers: url, ...(user ? { user: user.user, pass: user.password, inboxPrefix: inboxPrefixOf(user.user) } : {}) });
}

/** Resolves with the error the server answers a subscription with. */
function subscriptionRefusal(connection: NatsConnection, subject: string, queue?: string): Promise<Error> {
  return new Promise((resolve) => {
    connection.subscribe(subject, {
      ...(queue ? { queue } : {}),
      callback: (error) => {
        if (error) resolve(error);
      },
    });
  });
}

/**
 * The run's NATS, which every test shares, configured as `npm start`, compose and the manifests
 * configure theirs: a user per service, the gateway and a bot, with the generated permissions.
 */
describe('NATS authorization', () => {
  let spec: NatsAuthSpec;
  const nats = { url: '' };
  let act: ActHarness;
  let prefix: string;
  let jwtSecret: string;
  const open: NatsConnection[] = [];
  const bot = () => testNatsUser('bot', spec);
  const asUser = async (user: NatsUser) => {
    const connection = await connectAs(nats.url, user);
    open.push(connection);
    return connection;
  };
  /** The bot's own bus: its user, but not the services' actor key. */
  const botBus = () => connectTestBus(nats.url, prefix, 'test-bot', 'bot');

  beforeAll(async () => {
    spec = testNatsAuth();
    nats.url = testInfra().natsUrl;
    jwtSecret = randomBytes(24).toString('hex');
    // ACT as its own user, the harness as the gateway (both from the harness).
    act = await startAct('act_nats_auth', { HMS_JWT_SECRET: jwtSecret });
    prefix = act.bus.prefix;
    await act.call('act.plan.register', { definition: { id: 'one_step', steps: [{ id: 'a', pool: 'clerks' }] } }, MANAGER);
  });

  afterAll(async () => {
    for (const connection of open) await connection.close();
    await act?.close();
  });

  it("refuses an anonymous client and a wrong password: the run's shared server has no open door", async () => {
    await expect(connectAs(nats.url)).rejects.toThrow(/authorization/i);
    await expect(connectAs(nats.url, { user: 'act', password: 'guess' })).rejects.toThrow(/authorization/i);
  });

  it("refuses a service's subscription to another service's subjects, and to its own outside its queue group", async () => {
    const oms = await asUser(spec.services.oms);
    expect((await subscriptionRefusal(oms, `${prefix}act.plan.register`, 'act')).message).toMatch(/permissions violation/i);
    const actUser = await asUser(spec.services.act);
    expect((await subscriptionRefusal(actUser, `${prefix}act.plan.register`)).message).toMatch(/permissions violation/i);
    expect((await subscriptionRefusal(actUser, '_INBOX.>')).message).toMatch(/permissions violation/i);
  });

  it("refuses a service publishing another service's events, and a bot injecting any event", async () => {
    const oms = jetstream(await asUser(spec.services.oms));
    await expect(oms.publish(`${prefix}${EventStream.subjectOf('act.request.completed')}`, '{}')).rejects.toThrow(/permission/i);
    const robot = jetstream(await asUser(bot()));
    await expect(robot.publish(`${prefix}${EventStream.subjectOf('oms.task.completed')}`, '{}')).rejects.toThrow(/permission/i);
    await expect(robot.publish(`${prefix}${EventStream.subjectOf('platform.event.replayed')}`, '{}')).rejects.toThrow(/permission/i);
  });

  it('answers FORBIDDEN to a bot calling a manager RPC', async () => {
    const bus = await botBus();
    try {
      const rpc = new RpcClient(bus);
      expect(await rpcError(rpc.call('act.plan.register', { definition: { id: 'evil', steps: [{ id: 'a', pool: 'clerks' }] } }, { actor: MANAGER }))).toMatchObject({ code: 'FORBIDDEN' });
      expect(await rpcError(rpc.call('oms.queue.reroute', { pool: 'clerks', toPool: 'elsewhere' }, { actor: MANAGER }))).toMatchObject({ code: 'FORBIDDEN' });
      expect(await rpcError(rpc.call('act.request.cancel', { id: 'req_x' }, { actor: MANAGER }))).toMatchObject({ code: 'FORBIDDEN' });
    } finally {
      await bus.close();
    }
  });

  it("does not believe a bot's actor header that claims a manager: without the bot's own token the call is UNAUTHENTICATED", async () => {
    const robot = await asUser(bot());
    const headers = natsHeaders();
    headers.set(NatsHeaders.actor, JSON.stringify(MANAGER));
    headers.set(NatsHeaders.actorSignature, 'forged');
    const reply = await robot.request(`${prefix}act.request.create`, JSON.stringify({ plan: 'one_step', reference: 'forged' }), { headers, timeout: 10_000 });
    expect(reply.json()).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
    expect(await act.sql(`SELECT 1 FROM act.requests WHERE reference = 'forged'`)).toEqual([]);
  });

  it("acts as the bot its token names, whatever its actor header claims, in the request and its ledger", async () => {
    const robot = await asUser(bot());
    const headers = natsHeaders();
    headers.set(NatsHeaders.actor, JSON.stringify(MANAGER));
    headers.set(NatsHeaders.token, await signToken({ sub: 'robot@hms', roles: ['service'] }, jwtSecret));
    const reply = await robot.request(`${prefix}act.request.create`, JSON.stringify({ plan: 'one_step', reference: 'by-bot' }), { headers, timeout: 10_000 });
    const { result } = reply.json<{ ok: true; result: { request: { id: string } } }>();
    expect((await act.call('act.request.get', { id: result.request.id }, MANAGER)).createdBy).toBe('robot@hms');
    // The ledger is written from the event ACT published and consumed as its own NATS user.
    await eventually(async () => {
      const rows = await act.sql<{ actor: string }>(`SELECT DISTINCT actor FROM act.ledger_entries WHERE request_id = $1`, [result.request.id]);
      expect(rows.map((row) => row.actor)).toContain('robot@hms');
      expect(rows.map((row) => row.actor)).not.toContain('manager@hms');
    });
  });

  it("answers FORBIDDEN to a bot whose token's role the REST API would refuse for the call", async () => {
    const robot = await asUser(bot());
    const headers = natsHeaders();
    headers.set(NatsHeaders.token, await signToken({ sub: 'robot@hms', roles: ['worker'], pools: ['clerks'] }, jwtSecret));
    const reply = await robot.request(`${prefix}act.request.create`, JSON.stringify({ plan: 'one_step', reference: 'by-worker' }), { headers, timeout: 10_000 });
    expect(reply.json()).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(await act.sql(`SELECT 1 FROM act.requests WHERE reference = 'by-worker'`)).toEqual([]);
  });

  it("refuses a bot's token that the deployment did not sign", async () => {
    const robot = await asUser(bot());
    const headers = natsHeaders();
    headers.set(NatsHeaders.token, await signToken({ sub: 'manager@hms', roles: ['manager'] }, 'not-the-deployment-secret'));
    const reply = await robot.request(`${prefix}act.request.create`, JSON.stringify({ plan: 'one_step', reference: 'self-signed' }), { headers, timeout: 10_000 });
    expect(reply.json()).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
  });
});
