import { DomainError, EventStream, type AnyHmsEvent } from '@hms/contracts';
import { freshTestEnvironment } from '@hms/testing';
import pino from 'pino';
import { systemClock } from '../clock';
import { createDataSource, eventTablesUpSql } from '../database/data-source';
import { NatsBus } from '../nats/nats-bus';
import { RpcClient, RpcServer } from '../nats/rpc';
import { EventConsumer } from './event-consumer';
import { EventOutbox } from './event-outbox';

const logger = pino({ level: 'silent' });

async function eventually(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe(EventOutbox.name, () => {
  let env: Awaited<ReturnType<typeof freshTestEnvironment>>;
  let bus: NatsBus;
  let dataSource: ReturnType<typeof createDataSource>;
  let outbox: EventOutbox;
  let consumer: EventConsumer;
  const handled: AnyHmsEvent[] = [];

  beforeAll(async () => {
    env = await freshTestEnvironment('platform_events');
    bus = await NatsBus.connect(env.natsUrl, env.subjectPrefix, 'platform-test');
    await bus.ensureEventStream();
    dataSource = createDataSource({ url: env.databaseUrl, schema: 'plt', entities: [], migrations: [] });
    await dataSource.initialize();
    await dataSource.query('CREATE SCHEMA plt');
    for (const sql of eventTablesUpSql('plt')) await dataSource.query(sql);
    outbox = new EventOutbox(dataSource, bus, 'plt', 'ops', systemClock, logger, 50);
    outbox.start();
    consumer = new EventConsumer(bus, outbox, 'plt', { durable: 'plt', filter: 'oms.>', handle: async (event) => void handled.push(event) }, logger);
    await consumer.start();
  });

  afterAll(async () => {
    await consumer?.stop();
    await outbox?.stop();
    await dataSource?.destroy();
    await bus?.close();
    await env?.dispose();
  });

  it('publishes the events of a committed transaction and handles each once, even when redelivered', async () => {
    const emitted = await outbox.transaction(async (_tx, emit) => [
      emit('oms.pool.updated', null, { pool: 'a' }, 'tester'),
      emit('oms.pool.updated', null, { pool: 'b' }, 'tester'),
    ]);
    await eventually(() => handled.length === 2);
    expect(handled.map((e) => e.id)).toEqual(emitted.map((e) => e.id));
    expect(await dataSource.query('SELECT count(*)::int AS n FROM plt.outbox')).toEqual([{ n: 0 }]);

    // The same event again under another message id passes JetStream's de-duplication but not the consumer's.
    await bus.jetstream.publish(bus.subject(EventStream.subjectOf('oms.pool.updated')), JSON.stringify(emitted[0]), { msgID: `${emitted[0].id}-again` });
    const marker = await outbox.transaction(async (_tx, emit) => emit('oms.pool.updated', null, { pool: 'marker' }, 'tester'));
    await eventually(() => handled.some((e) => e.id === marker.id));
    expect(handled.filter((e) => e.id === emitted[0].id)).toHaveLength(1);
  });

  it('publishes nothing from a transaction that rolls back', async () => {
    const before = handled.length;
    await expect(
      outbox.transaction(async (_tx, emit) => {
        emit('oms.pool.updated', null, { pool: 'rolled-back' }, 'tester');
        throw new DomainError('CONFLICT', 'changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    const marker = await outbox.transaction(async (_tx, emit) => emit('oms.pool.updated', null, { pool: 'after' }, 'tester'));
    await eventually(() => handled.some((e) => e.id === marker.id));
    expect(handled.slice(before).map((e) => (e.data as { pool: string }).pool)).toEqual(['after']);
  });
});

describe(RpcServer.name, () => {
  let env: Awaited<ReturnType<typeof freshTestEnvironment>>;
  let bus: NatsBus;
  let server: RpcServer;

  beforeAll(async () => {
    env = await freshTestEnvironment('platform_rpc');
    bus = await NatsBus.connect(env.natsUrl, env.subjectPrefix, 'platform-test');
    server = new RpcServer(bus, 'ops', logger);
    server.serve<'ops'>({
      'ops.metrics.pools': async (query, context) => {
        if (query.pool === 'explode') throw new Error('database on fire');
        if (query.pool === 'missing') throw DomainError.notFound('Pool', 'missing');
        return { pools: [{ pool: `${query.pool}:${context.actor.id}` } as never] };
      },
    });
  });

  afterAll(async () => {
    await server?.stop();
    await bus?.close();
    await env?.dispose();
  });

  const actor = { id: 'tester', roles: ['manager' as const] };

  it('answers with the handler result and passes the actor along', async () => {
    const result = await new RpcClient(bus).call('ops.metrics.pools', { pool: 'p1' }, { actor });
    expect(result.pools[0].pool).toBe('p1:tester');
  });

  it('sends domain errors with their code, and hides unknown errors as INTERNAL', async () => {
    const client = new RpcClient(bus);
    await expect(client.call('ops.metrics.pools', { pool: 'missing' }, { actor })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(client.call('ops.metrics.pools', { pool: 'explode' }, { actor })).rejects.toMatchObject({ code: 'INTERNAL', message: 'Internal error' });
  });

  it('refuses an invalid message before the handler runs', async () => {
    await expect(new RpcClient(bus).call('ops.metrics.pools', { pool: 7, bogus: 1 } as never, { actor })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      details: expect.arrayContaining([expect.objectContaining({ path: 'bogus' }), expect.objectContaining({ path: 'pool' })]),
    });
  });

  it('reports UNAVAILABLE when no replica serves the subject', async () => {
    await expect(new RpcClient(bus).call('act.request.get', { id: 'x' }, { actor, timeoutMs: 500 })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });
});
