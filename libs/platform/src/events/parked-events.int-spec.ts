import { DomainError, EventStream, type AnyHmsEvent, type HmsEvent } from '@hms/contracts';
import { freshTestEnvironment, TestNatsParts } from '@hms/testing';
import pino from 'pino';
import { randomUUID } from 'node:crypto';
import { systemClock } from '../clock';
import { createDataSource, eventTablesUpSql, parkedEventsTableUpSql } from '../database/data-source';
import type { NatsBus } from '../nats/nats-bus';
import { EventConsumer } from './event-consumer';
import { EventOutbox } from './event-outbox';
import { ParkedEvents } from './parked-events';

const logger = pino({ level: 'silent' });
const SCHEMA = 'ppk';
const MAX_DELIVERIES = 3;
const GOOD_EVENTS = 600;

/** A promise that settles once `count()` reaches `target`, checked each time `poke()` is called. */
function countdown(target: number, count: () => number) {
  let resolve!: () => void;
  const reached = new Promise<void>((r) => (resolve = r));
  return {
    reached,
    poke: () => {
      if (count() >= target) resolve();
    },
  };
}

describe(ParkedEvents.name, () => {
  let env: Awaited<ReturnType<typeof freshTestEnvironment>>;
  /** OMS's NATS user (the outbox's events are OMS's); ACT's publishes the ACT events of one test. */
  let parts: TestNatsParts;
  let bus: NatsBus;
  let dataSource: ReturnType<typeof createDataSource>;
  let outbox: EventOutbox;
  let parked: ParkedEvents;
  let consumer: EventConsumer;
  let watcher: EventConsumer;
  let causeFixed = false;
  const handledPools: string[] = [];
  const parkingEvents: AnyHmsEvent[] = [];
  const goodHandled = countdown(GOOD_EVENTS, () => handledPools.filter((pool) => pool !== 'poison').length);
  const twoParked = countdown(2, () => parkingEvents.filter((e) => e.type === 'platform.event.parked').length);
  const oneReplayed = countdown(1, () => parkingEvents.filter((e) => e.type === 'platform.event.replayed').length);
  const parkingSeen: Array<() => void> = [twoParked.poke, oneReplayed.poke];
  const committedSeen: Array<() => void> = [goodHandled.poke];
  let busyFailures = 0;

  beforeAll(async () => {
    env = await freshTestEnvironment('platform_parked');
    parts = new TestNatsParts(env.natsUrl, env.subjectPrefix, 'platform-parked-test');
    bus = await parts.as('oms');
    await bus.ensureEventStream();
    dataSource = createDataSource({ url: env.databaseUrl, schema: SCHEMA, entities: [], migrations: [] });
    await dataSource.initialize();
    await dataSource.query(`CREATE SCHEMA ${SCHEMA}`);
    for (const sql of [...eventTablesUpSql(SCHEMA), ...parkedEventsTableUpSql(SCHEMA)]) await dataSource.query(sql);
    outbox = new EventOutbox(dataSource, bus, SCHEMA, 'ops', systemClock, logger, 20);
    outbox.start();
    parked = new ParkedEvents(dataSource, outbox, SCHEMA, 'ops', systemClock);
    // Short redelivery delays instead of the production 0.5 s doubling: the test waits for markers, never for time.
    const delivery = { maxDeliveries: MAX_DELIVERIES, retryBaseMs: 5, parked };
    consumer = new EventConsumer(
      bus,
      outbox,
      SCHEMA,
      {
        durable: 'ppk',
        filter: 'oms.>',
        accepts: (type) => type === 'oms.pool.updated',
        handle: async (event) => {
          const pool = (event.data as { pool: string }).pool;
          if (pool === 'poison' && !causeFixed) throw new Error(`pool 'poison' is not set up\u0000yet`);
          if (pool === 'busy' && busyFailures < MAX_DELIVERIES + 2) {
            busyFailures += 1;
            throw Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' });
          }
          handledPools.push(pool);
        },
        committed: () => committedSeen.forEach((poke) => poke()),
      },
      logger,
      delivery,
    );
    parked.register(consumer);
    watcher = new EventConsumer(
      bus,
      outbox,
      SCHEMA,
      {
        durable: 'ppk-watch',
        filter: 'platform.event.>',
        handle: async (event) => {
          parkingEvents.push(event);
          parkingSeen.forEach((poke) => poke());
        },
      },
      logger,
      delivery,
    );
    await consumer.start();
    await watcher.start();
  });

  afterAll(async () => {
    await consumer?.stop();
    await watcher?.stop();
    await outbox?.stop();
    await dataSource?.destroy();
    await parts?.close();
    await env?.dispose();
  });

  it('parks an event that fails on every delivery while the events behind it are all handled, and replays it once its cause is fixed', async () => {
    const poison = await outbox.transaction(async (_tx, emit) => emit('oms.pool.updated', null, { pool: 'poison' }, 'tester'));
    // Data the outbox (jsonb) would refuse, published straight to the stream: a NUL and a lone surrogate.
    const odd: HmsEvent<'oms.pool.updated'> = { id: randomUUID(), type: 'oms.pool.updated', at: new Date().toISOString(), actor: 'tester', requestId: null, source: 'oms', data: { pool: 'poison', note: 'a\u0000b\ud800' } as never };
    await bus.jetstream.publish(bus.subject(EventStream.subjectOf(odd.type)), JSON.stringify(odd), { msgID: odd.id });
    for (let start = 0; start < GOOD_EVENTS; start += 200) {
      await outbox.transaction(async (_tx, emit) => {
        for (let i = start; i < start + 200; i++) emit('oms.pool.updated', null, { pool: `p${i}` }, 'tester');
      });
    }

    await goodHandled.reached;
    await twoParked.reached;
    expect(new Set(handledPools).size).toBe(GOOD_EVENTS);
    expect(handledPools).not.toContain('poison');

    const page = await parked.list({});
    expect(page.nextCursor).toBeNull();
    expect(page.items).toHaveLength(2);
    const parkedPoison = page.items.find((item) => item.eventId === poison.id)!;
    expect(parkedPoison).toMatchObject({
      service: 'ops',
      consumer: 'ppk',
      type: 'oms.pool.updated',
      subject: 'hms.evt.oms.pool.updated',
      data: { pool: 'poison' },
      deliveryCount: MAX_DELIVERIES,
      lastError: `pool 'poison' is not set up\uFFFDyet`,
    });
    expect(page.items.find((item) => item.eventId === odd.id)!.data).toEqual({ pool: 'poison', note: 'a\u0000b\ud800' });
    // One alert-raising event per parked event, naming it without its data.
    const raised = parkingEvents.filter((e): e is HmsEvent<'platform.event.parked'> => e.type === 'platform.event.parked');
    expect(raised.map((e) => e.data.parkedId).sort()).toEqual(page.items.map((item) => item.id).sort());
    expect(raised.find((e) => e.data.eventId === poison.id)!.data).toEqual({
      service: 'ops',
      consumer: 'ppk',
      parkedId: parkedPoison.id,
      eventId: poison.id,
      eventType: 'oms.pool.updated',
      deliveries: MAX_DELIVERIES,
      error: parkedPoison.lastError,
    });

    // Paging: newest first, one at a time.
    const first = await parked.list({ limit: 1 });
    const second = await parked.list({ limit: 1, cursor: first.nextCursor! });
    expect([...first.items, ...second.items].map((item) => item.id)).toEqual(page.items.map((item) => item.id));
    expect(second.nextCursor).toBeNull();

    // Replayed before the cause is fixed: the new error, and the row stays.
    const again = await parked.replay(parkedPoison.id, 'tester');
    expect(again).toEqual({ replayed: false, parkedEvent: { ...parkedPoison, deliveryCount: MAX_DELIVERIES + 1 } });

    causeFixed = true;
    expect(await parked.replay(parkedPoison.id, 'tester')).toEqual({ replayed: true, parkedEvent: null });
    expect(handledPools.filter((pool) => pool === 'poison')).toHaveLength(1);
    expect((await parked.list({})).items.map((item) => item.eventId)).toEqual([odd.id]);
    expect(await dataSource.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.processed_events WHERE event_id = $1`, [poison.id])).toEqual([{ n: 1 }]);
    // Nothing of the poison is left in flight: no message waits for an ack or a redelivery. The
    // consumer settles a parked message after its transaction, so the server may see that ack a
    // moment after the parking is visible: read again until it has, a bounded number of times.
    const inFlight = async () => {
      const info = await (await bus.manager()).consumers.info(bus.streamName, `${bus.prefix.replace(/\W/g, '_')}ppk`);
      return { pending: info.num_pending, unacknowledged: info.num_ack_pending };
    };
    let left = await inFlight();
    for (let reads = 0; reads < 50 && (left.pending > 0 || left.unacknowledged > 0); reads += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      left = await inFlight();
    }
    expect(left).toEqual({ pending: 0, unacknowledged: 0 });
    await oneReplayed.reached;
    expect(parkingEvents.find((e) => e.type === 'platform.event.replayed')!.actor).toBe('tester');
    expect(parkingEvents.find((e) => e.type === 'platform.event.replayed')!.data).toEqual({ service: 'ops', consumer: 'ppk', parkedId: parkedPoison.id, eventId: poison.id, eventType: 'oms.pool.updated' });

    // Gone once replayed; names of nothing are NOT_FOUND, never a cast error.
    for (const id of [parkedPoison.id, randomUUID(), 'not-a-uuid', 'x'.repeat(100)]) {
      await expect(parked.replay(id, 'tester')).rejects.toMatchObject({ code: 'NOT_FOUND' } satisfies Partial<DomainError>);
    }
  });

  it('never parks an event for a failure of the infrastructure (a statement timeout), however often it comes', async () => {
    const event = await outbox.transaction(async (_tx, emit) => emit('oms.pool.updated', null, { pool: 'busy' }, 'tester'));
    const busyHandled = countdown(1, () => handledPools.filter((pool) => pool === 'busy').length);
    committedSeen.push(busyHandled.poke);
    await busyHandled.reached;
    expect(busyFailures).toBe(MAX_DELIVERIES + 2);
    expect((await parked.list({})).items.map((item) => item.eventId)).not.toContain(event.id);
  });

  it('keeps draining when more poison messages arrive at once than the consumer may leave unacknowledged', async () => {
    const POISON = 40;
    const GOOD = 200;
    const durable = 'ppk-many';
    // The good plans whose handling committed: a batch that met a poison event is rolled back and
    // its good events handled again, each alone, so counting handler calls would count some twice.
    const committedPlans = new Set<string>();
    const allGood = countdown(GOOD, () => committedPlans.size);
    const allParked = countdown(POISON, () => parkingEvents.filter((e) => e.type === 'platform.event.parked' && e.data.consumer === durable).length);
    parkingSeen.push(allParked.poke);
    const many = new EventConsumer(
      bus,
      outbox,
      SCHEMA,
      {
        durable,
        filter: 'act.plan.>',
        handle: async (event) => {
          const { plan } = event.data as { plan: string };
          if (plan.startsWith('poison')) throw new Error('cannot register this plan');
        },
        committed: (events) => {
          for (const event of events) if ((event.data as { plan: string }).plan.startsWith('good')) committedPlans.add((event.data as { plan: string }).plan);
          allGood.poke();
        },
      },
      logger,
      { maxDeliveries: MAX_DELIVERIES, retryBaseMs: 5, parked },
    );
    await many.start();
    try {
      // Ten in flight at most: before parking, forty poison messages naked for ever would hold every slot, and nothing behind them would come.
      await (await bus.manager()).consumers.update(bus.streamName, `${bus.prefix.replace(/\W/g, '_')}${durable}`, { max_ack_pending: 10 });
      for (let i = 0; i < POISON; i++) {
        const event: HmsEvent<'act.plan.registered'> = { id: randomUUID(), type: 'act.plan.registered', at: new Date().toISOString(), actor: 'tester', requestId: null, source: 'act', data: { plan: `poison-${i}`, version: 1 } };
        await parts.publish(event);
      }
      // ACT's events come from ACT's user, not through this (OMS's) outbox.
      for (let i = 0; i < GOOD; i++) {
        await parts.publish({ id: randomUUID(), type: 'act.plan.registered', at: new Date().toISOString(), actor: 'tester', requestId: null, source: 'act', data: { plan: `good-${i}`, version: 1 } });
      }
      await allGood.reached;
      await allParked.reached;
      expect(committedPlans.size).toBe(GOOD);
      expect(await dataSource.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.parked_events WHERE consumer = $1`, [durable])).toEqual([{ n: POISON }]);
    } finally {
      await many.stop();
    }
  });

  it('keeps the idempotency of the consumer: replaying an event it handled meanwhile only removes the row', async () => {
    const event = await outbox.transaction(async (_tx, emit) => emit('oms.pool.updated', null, { pool: 'handled-before' }, 'tester'));
    const handledBefore = countdown(1, () => handledPools.filter((pool) => pool === 'handled-before').length);
    committedSeen.push(handledBefore.poke);
    await handledBefore.reached;
    // As if it had been parked by a replica that crashed before acknowledging it, and was then redelivered and handled.
    await parked.park({ consumer: 'ppk', event: event as AnyHmsEvent, subject: 'hms.evt.oms.pool.updated', error: new Error('lost'), deliveries: MAX_DELIVERIES });
    const row = (await parked.list({})).items.find((item) => item.eventId === event.id)!;
    expect(await parked.replay(row.id, 'tester')).toEqual({ replayed: true, parkedEvent: null });
    expect(handledPools.filter((pool) => pool === 'handled-before')).toHaveLength(1);
  });

  it('emits nothing when what it parks is itself a parking event, so a failing alert consumer cannot loop', async () => {
    const quietOutbox = new EventOutbox(dataSource, bus, SCHEMA, 'ops', systemClock, logger); // never started: its rows stay
    const quiet = new ParkedEvents(dataSource, quietOutbox, SCHEMA, 'ops', systemClock);
    const parkingEvent = parkingEvents.find((e) => e.type === 'platform.event.parked')!;
    await outbox.stop();
    try {
      const before = await dataSource.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.outbox`);
      await quiet.park({ consumer: 'ppk-watch', event: parkingEvent, subject: 'hms.evt.platform.event.parked', error: new Error('alert table gone'), deliveries: MAX_DELIVERIES });
      expect(await dataSource.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.outbox`)).toEqual(before);
      expect((await quiet.list({})).items.map((item) => item.type)).toContain('platform.event.parked');
    } finally {
      outbox.start();
    }
  });
});
