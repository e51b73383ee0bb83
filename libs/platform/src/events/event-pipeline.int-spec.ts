import { randomUUID } from 'node:crypto';
import { DomainError, EventStream, type AnyHmsEvent } from '@hms/contracts';
import { connectTestBus, freshTestEnvironment, recordStatements, TestNatsParts, uniqueSubjectPrefix } from '@hms/testing';
import { context, INVALID_TRACEID, propagation, ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import pino from 'pino';
import { systemClock } from '../clock';
import { createDataSource, eventTablesUpSql, processedEventsRetentionIndexUpSql } from '../database/data-source';
import type { NatsBus } from '../nats/nats-bus';
import { RpcClient, RpcServer } from '../nats/rpc';
import { claimProcessedEventSql, EventConsumer, type AtOnceEvent } from './event-consumer';
import { EventOutbox } from './event-outbox';
import { PROCESSED_EVENTS_DELETE_CHUNK, PROCESSED_EVENTS_RETENTION_SECONDS, ProcessedEventsRetention } from './processed-events-retention';

const logger = pino({ level: 'silent' });

async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * A fresh database and subject prefix with the event tables of `schema` and a running outbox, on
 * OMS's NATS user (the events here are OMS's).
 */
async function eventsFixture(label: string, schema: string) {
  const env = await freshTestEnvironment(label);
  const bus = await connectTestBus(env.natsUrl, env.subjectPrefix, 'platform-test', 'oms');
  await bus.ensureEventStream();
  const dataSource = createDataSource({ url: env.databaseUrl, schema, entities: [], migrations: [] });
  await dataSource.initialize();
  await dataSource.query(`CREATE SCHEMA ${schema}`);
  for (const sql of eventTablesUpSql(schema)) await dataSource.query(sql);
  const outbox = new EventOutbox(dataSource, bus, schema, 'ops', systemClock, logger, 50);
  outbox.start();
  return {
    env,
    bus,
    dataSource,
    outbox,
    async dispose(consumer?: EventConsumer) {
      await consumer?.stop();
      await outbox.stop();
      await dataSource.destroy();
      await bus.close();
      await env.dispose();
    },
  };
}

describe(EventOutbox.name, () => {
  let fixture: Awaited<ReturnType<typeof eventsFixture>>;
  let bus: NatsBus;
  let dataSource: ReturnType<typeof createDataSource>;
  let outbox: EventOutbox;
  let consumer: EventConsumer;
  const handled: AnyHmsEvent[] = [];

  beforeAll(async () => {
    fixture = await eventsFixture('platform_events', 'plt');
    ({ bus, dataSource, outbox } = fixture);
    consumer = new EventConsumer(bus, outbox, 'plt', { durable: 'plt', filter: 'oms.>', handle: async (event) => void handled.push(event) }, logger);
    await consumer.start();
  });

  afterAll(async () => {
    await fixture?.dispose(consumer);
  });

  it('publishes the events of a committed transaction and handles each once, even when redelivered', async () => {
    const emitted = await outbox.transaction(async (_tx, emit) => [
      emit('oms.pool.updated', null, { pool: 'a' }, 'tester'),
      emit('oms.pool.updated', null, { pool: 'b' }, 'tester'),
    ]);
    await eventually(() => handled.length === 2);
    expect(handled.map((e) => e.id)).toEqual(emitted.map((e) => e.id));
    // Deleted once the stream acknowledged them, which may be after the consumer handled them.
    await eventually(async () => (await dataSource.query('SELECT count(*)::int AS n FROM plt.outbox'))[0].n === 0);

    // The same event again under another message id passes JetStream's de-duplication but not the consumer's.
    await bus.jetstream.publish(bus.subject(EventStream.subjectOf('oms.pool.updated')), JSON.stringify(emitted[0]), { msgID: `${emitted[0].id}-again` });
    const marker = await outbox.transaction(async (_tx, emit) => emit('oms.pool.updated', null, { pool: 'marker' }, 'tester'));
    await eventually(() => handled.some((e) => e.id === marker.id));
    expect(handled.filter((e) => e.id === emitted[0].id)).toHaveLength(1);
  });

  it('sends a run of events of one type as one message, and each event is handled once, in its own trace', async () => {
    // What the SDK sets up in a service (see startTracing), without exporting anything.
    const contextManager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(contextManager);
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    const tracesSeen = new Map<string, string | undefined>();
    const tracingConsumer = new EventConsumer(
      bus,
      outbox,
      'plt',
      { durable: 'plt-traced', filter: 'oms.>', handle: async (event) => void tracesSeen.set(event.id, trace.getActiveSpan()?.spanContext().traceId) },
      logger,
    );
    await tracingConsumer.start();
    try {
      const jsm = await bus.manager();
      const storedBefore = (await jsm.streams.info(bus.streamName)).state.messages;
      const traceIds = Array.from({ length: 5 }, (_, i) => `${String(i + 1).padStart(2, '0')}f7651916cd43dd8448eb211c80319c`);
      const inTrace = <T>(traceId: string, work: () => T): T =>
        context.with(trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED }), work);
      const emitted = await outbox.transaction(async (_tx, emit) => [
        ...traceIds.slice(0, 4).map((traceId, i) => inTrace(traceId, () => emit('oms.pool.updated', null, { pool: `run-${i}` }, 'tester'))),
        inTrace(traceIds[4]!, () => emit('oms.worker.online', null, { pool: 'run', worker: 'w' }, 'tester')),
        emit('oms.pool.updated', null, { pool: 'untraced' }, 'tester'),
      ]);
      // The suite's other consumer handles them too; the next test counts from here.
      await eventually(() => emitted.every((event) => tracesSeen.has(event.id) && handled.some((e) => e.id === event.id)));

      // Four events of one type, then a lone one of another, then a lone one again: three messages.
      expect((await jsm.streams.info(bus.streamName)).state.messages - storedBefore).toBe(3);
      // The untraced event's span has no parent: the API's invalid (all-zero) trace id.
      expect(emitted.map((event) => tracesSeen.get(event.id))).toEqual([...traceIds, INVALID_TRACEID]);
    } finally {
      await tracingConsumer.stop();
      context.disable();
      propagation.disable();
    }
  });

  it("packs the events of requests side by side into one message per type, and a consumer meets each request's in order", async () => {
    const jsm = await bus.manager();
    const storedBefore = (await jsm.streams.info(bus.streamName)).state.messages;
    const requests = [randomUUID(), randomUUID(), randomUUID()];
    const task = (pool: string) => ({ taskId: randomUUID(), stepId: 's', pool, priority: 0, tags: [], attempt: 0, slaDueAt: null });
    // As the outbox holds them when requests are handled side by side: queued, leased, queued, leased, …
    const emitted = await outbox.transaction(async (_tx, emit) =>
      requests.flatMap((requestId) => [
        emit('oms.task.queued', requestId, task('packed'), 'tester'),
        emit('oms.task.leased', requestId, { ...task('packed'), worker: 'w', leaseId: randomUUID(), leaseExpiresAt: new Date().toISOString() } as never, 'tester'),
      ]),
    );
    await eventually(() => emitted.every((event) => handled.some((e) => e.id === event.id)));
    expect((await jsm.streams.info(bus.streamName)).state.messages - storedBefore).toBe(2);
    for (const requestId of requests) {
      expect(handled.filter((e) => e.requestId === requestId).map((e) => e.type)).toEqual(['oms.task.queued', 'oms.task.leased']);
    }
  });

  it('keeps the rows when publishing fails, and gives its connection back outside the transaction', async () => {
    // A bus whose subjects no stream captures: every publish is refused.
    const streamless = await connectTestBus(fixture.env.natsUrl, uniqueSubjectPrefix(), 'platform-test-streamless', 'oms');
    const failing = new EventOutbox(dataSource, streamless, 'plt', 'ops', systemClock, logger);
    try {
      await outbox.stop(); // the working relay must not take the rows first
      const kept = await failing.transaction(async (_tx, emit) => emit('oms.pool.updated', null, { pool: 'unsent' }, 'tester'));
      await expect(failing.relayBatch()).rejects.toThrow();
      expect(await dataSource.query('SELECT event_id FROM plt.outbox')).toEqual([{ event_id: kept.id }]);
      expect(await dataSource.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'`)).toEqual([{ n: 0 }]);
    } finally {
      await streamless.close();
      outbox.start();
    }
    await eventually(() => handled.some((e) => (e.data as { pool?: string }).pool === 'unsent'));
    // The relay deletes the rows after the stream acknowledged them, so a consumer may see the event first.
    await eventually(async () => (await dataSource.query('SELECT count(*)::int AS n FROM plt.outbox'))[0].n === 0);
  });

  it('wakes the relay after a transaction that emitted events, and only then', async () => {
    const kick = jest.spyOn(outbox, 'kick');
    try {
      await outbox.transaction(async (tx) => tx.query('SELECT 1'));
      expect(kick).not.toHaveBeenCalled();
      const event = await outbox.transaction(async (_tx, emit) => emit('oms.pool.updated', null, { pool: 'kicked' }, 'tester'));
      expect(kick).toHaveBeenCalledTimes(1);
      await eventually(() => handled.some((e) => e.id === event.id));
    } finally {
      kick.mockRestore();
    }
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

describe(`${EventConsumer.name} batches`, () => {
  let fixture: Awaited<ReturnType<typeof eventsFixture>>;
  let dataSource: ReturnType<typeof createDataSource>;
  let outbox: EventOutbox;
  let consumer: EventConsumer;
  const handledPools: string[] = [];
  const committed: string[] = [];
  const committedBatchSizes: number[] = [];
  let poisonFailures = 0;

  beforeAll(async () => {
    fixture = await eventsFixture('platform_batches', 'plb');
    ({ dataSource, outbox } = fixture);
    consumer = new EventConsumer(
      fixture.bus,
      outbox,
      'plb',
      {
        durable: 'plb',
        filter: 'oms.>',
        accepts: (type) => type === 'oms.pool.updated',
        handle: async (event, tx) => {
          const pool = (event.data as { pool: string }).pool;
          await tx.query('SELECT pg_sleep(0.002)'); // slow enough for a backlog to build up
          if (pool === 'poison' && poisonFailures < 2) {
            poisonFailures += 1;
            throw new Error('cannot handle this one yet');
          }
          handledPools.push(pool);
        },
        committed: (events) => {
          committedBatchSizes.push(events.length);
          committed.push(...events.map((e) => (e.data as { pool: string }).pool));
        },
      },
      logger,
    );
    await consumer.start();
  });

  afterAll(async () => {
    await fixture?.dispose(consumer);
  });

  it('handles a burst in batches, each event once, and holds back only the event that fails', async () => {
    const pools = Array.from({ length: 300 }, (_, i) => (i === 150 ? 'poison' : `p${i}`));
    await outbox.transaction(async (_tx, emit) => {
      for (const pool of pools) emit('oms.pool.updated', null, { pool }, 'tester');
      emit('oms.task.queued', null, { taskId: 't', stepId: 's', pool: 'ignored', priority: 0, tags: [], attempt: 0, slaDueAt: null }, 'tester');
    });
    await eventually(() => committed.length === 300, 30_000);
    expect([...committed].sort()).toEqual([...pools].sort());
    expect(new Set(handledPools).size).toBe(300);
    expect(poisonFailures).toBe(2);
    // Fewer transactions than events: the backlog was committed in batches.
    expect(committedBatchSizes.length).toBeLessThan(300);
    expect(Math.max(...committedBatchSizes)).toBeGreaterThan(1);
    // Events the subscription does not accept are acknowledged without being recorded.
    const recorded = await dataSource.query(`SELECT count(*)::int AS n FROM plb.processed_events`);
    expect(recorded).toEqual([{ n: 300 }]);
  });

  it('acknowledges a message of a type it does not accept unread: its subject says the type, its body is never parsed', async () => {
    const lines: string[] = [];
    const capturing = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const seen: string[] = [];
    const durable = 'plb-narrow';
    const narrow = new EventConsumer(fixture.bus, outbox, 'plb', { durable, filter: 'oms.>', accepts: (type) => type === 'oms.pool.updated', handle: async (event) => void seen.push(event.id) }, capturing);
    await narrow.start();
    try {
      // Not JSON: a consumer that parsed it would log it and terminate it.
      await fixture.bus.jetstream.publish(fixture.bus.subject(EventStream.subjectOf('oms.worker.online')), 'not JSON, and never read', { msgID: randomUUID() });
      const marker = await outbox.transaction(async (_tx, emit) => emit('oms.pool.updated', null, { pool: 'narrow-marker' }, 'tester'));
      await eventually(() => seen.includes(marker.id));
      const jsm = await fixture.bus.manager();
      const name = `${fixture.bus.prefix.replace(/\W/g, '_')}${durable}`;
      for (const deadline = Date.now() + 10_000; ; ) {
        const info = await jsm.consumers.info(fixture.bus.streamName, name);
        if (info.num_ack_pending === 0 && info.num_pending === 0) {
          expect(info.num_redelivered).toBe(0);
          break;
        }
        if (Date.now() > deadline) throw new Error(`consumer still has ${info.num_ack_pending} unacknowledged, ${info.num_pending} pending`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      // A new durable reads the stream from its start: the earlier test's events come first.
      expect(seen[seen.length - 1]).toBe(marker.id);
      expect(lines.filter((line) => line.includes('not JSON'))).toEqual([]);
      // Only the accepted events were claimed (the earlier test's oms.task.queued was not).
      expect(await dataSource.query(`SELECT count(*)::int AS n FROM plb.processed_events WHERE consumer = $1`, [durable])).toEqual([{ n: seen.length }]);
    } finally {
      await narrow.stop();
    }
  });
});

describe(`${EventConsumer.name} off the latency path (lingerMs)`, () => {
  let fixture: Awaited<ReturnType<typeof eventsFixture>>;
  let consumer: EventConsumer;
  const batches: Array<{ pools: string[]; at: number }> = [];
  const LINGER_MS = 1_000;

  beforeAll(async () => {
    fixture = await eventsFixture('platform_linger', 'pll');
    const handleAll = async (events: AnyHmsEvent[]) => void batches.push({ pools: events.map((e) => (e.data as { pool: string }).pool), at: Date.now() });
    consumer = new EventConsumer(fixture.bus, fixture.outbox, 'pll', { durable: 'pll', filter: 'oms.>', lingerMs: LINGER_MS, handleAll }, logger);
    await consumer.start();
  });

  afterAll(async () => {
    await fixture?.dispose(consumer);
  });

  it('waits before handling events that reach an idle stream, and handles what arrived meanwhile together', async () => {
    const committedAt = Date.now();
    for (const pool of ['a', 'b', 'c']) {
      await fixture.outbox.transaction(async (_tx, emit) => emit('oms.pool.updated', null, { pool }, 'tester'));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await eventually(() => batches.length > 0);
    // Without the linger the first event, alone on the stream, would have been handled alone at once.
    expect(batches.map((batch) => batch.pools)).toEqual([['a', 'b', 'c']]);
    expect(batches[0]!.at - committedAt).toBeGreaterThanOrEqual(LINGER_MS);
  });
});

describe(`${EventConsumer.name} with its own claim`, () => {
  let fixture: Awaited<ReturnType<typeof eventsFixture>>;
  let consumer: EventConsumer;
  const handled: string[] = [];
  let failuresLeft = 1;

  beforeAll(async () => {
    fixture = await eventsFixture('platform_claim', 'plc');
    await fixture.dataSource.query('CREATE TABLE plc.seen (event_id uuid PRIMARY KEY)');
    consumer = new EventConsumer(
      fixture.bus,
      fixture.outbox,
      'plc',
      {
        durable: 'plc',
        filter: 'oms.>',
        // The subscription's own unique write is its record of what it handled.
        claim: async (events, tx) => {
          const rows: Array<{ event_id: string }> = await tx.query(
            'INSERT INTO plc.seen (event_id) SELECT unnest($1::uuid[]) ON CONFLICT DO NOTHING RETURNING event_id',
            [events.map((e) => e.id)],
          );
          return new Set(rows.map((row) => row.event_id));
        },
        handle: async (event) => {
          if ((event.data as { pool: string }).pool === 'flaky' && failuresLeft > 0) {
            failuresLeft -= 1;
            throw new Error('not yet');
          }
        },
        // What committed, not what was tried: 'first' shares a message (and a first, rolled-back attempt) with 'flaky'.
        committed: (events) => handled.push(...events.map((event) => (event.data as { pool: string }).pool)),
      },
      logger,
    );
    await consumer.start();
  });

  afterAll(async () => {
    await fixture?.dispose(consumer);
  });

  it('hands each event over once by its claim, keeps no processed_events row, and rolls a claim back with its handler', async () => {
    const [first] = await fixture.outbox.transaction(async (_tx, emit) => [emit('oms.pool.updated', null, { pool: 'first' }, 'tester'), emit('oms.pool.updated', null, { pool: 'flaky' }, 'tester')]);
    await eventually(() => handled.includes('flaky'), 30_000);
    await fixture.bus.jetstream.publish(fixture.bus.subject(EventStream.subjectOf('oms.pool.updated')), JSON.stringify(first), { msgID: `${first.id}-again` });
    await fixture.outbox.transaction(async (_tx, emit) => emit('oms.pool.updated', null, { pool: 'marker' }, 'tester'));
    await eventually(() => handled.includes('marker'));

    expect(handled.filter((pool) => pool === 'first')).toHaveLength(1);
    // The failed attempt's claim rolled back with it, so the retry was handed the event again.
    expect(handled.filter((pool) => pool === 'flaky')).toHaveLength(1);
    expect(failuresLeft).toBe(0);
    expect(await fixture.dataSource.query('SELECT count(*)::int AS n FROM plc.seen')).toEqual([{ n: 3 }]);
    expect(await fixture.dataSource.query('SELECT count(*)::int AS n FROM plc.processed_events')).toEqual([{ n: 0 }]);
  });
});

describe(`${EventConsumer.name} with a fast path for lone events`, () => {
  let fixture: Awaited<ReturnType<typeof eventsFixture>>;
  let consumer: EventConsumer;
  /** Which path handled each pool's event. */
  const handledBy: Array<[string, 'alone' | 'transaction']> = [];
  const committed: string[] = [];
  let aloneFailuresLeft = 1;

  beforeAll(async () => {
    fixture = await eventsFixture('platform_alone', 'pla');
    await fixture.dataSource.query('CREATE TABLE pla.pools (pool text PRIMARY KEY)');
    consumer = new EventConsumer(
      fixture.bus,
      fixture.outbox,
      'pla',
      {
        durable: 'pla',
        filter: 'oms.>',
        handle: async (event, tx) => {
          const pool = (event.data as { pool: string }).pool;
          await tx.query('INSERT INTO pla.pools (pool) VALUES ($1)', [pool]);
          handledBy.push([pool, 'transaction']);
        },
        // Claim and effect in one statement; declines pools named 'decline-…', fails once for 'broken'.
        handleAtOnce: async (events) => {
          expect(events).toHaveLength(1);
          const [{ event }] = events as [AtOnceEvent];
          const pool = (event.data as { pool: string }).pool;
          if (pool.startsWith('decline')) return 'declined';
          if (pool === 'broken' && aloneFailuresLeft-- > 0) throw new Error('fast path down');
          const [row]: Array<{ claimed: boolean }> = await fixture.dataSource.query(
            `WITH claimed AS (${claimProcessedEventSql({ schema: 'pla', consumer: "'pla'", eventIds: 'unnest(ARRAY[$1::uuid])' })}),
                  added AS (INSERT INTO pla.pools (pool) SELECT $2 FROM claimed RETURNING pool)
             SELECT EXISTS (SELECT 1 FROM added) AS claimed`,
            [event.id, pool],
          );
          if (!row!.claimed) return { handled: new Set() };
          handledBy.push([pool, 'alone']);
          return { handled: new Set([event.id]) };
        },
        committed: (events) => committed.push(...events.map((e) => (e.data as { pool: string }).pool)),
      },
      logger,
    );
    await consumer.start();
  });

  afterAll(async () => {
    await fixture?.dispose(consumer);
  });

  const publishAlone = async (pool: string) => {
    const event = await fixture.outbox.transaction(async (_tx, emit) => emit('oms.pool.updated', null, { pool }, 'tester'));
    await eventually(() => committed.includes(pool) || handledBy.some(([p]) => p === pool));
    return event;
  };

  it('handles a lone event in one statement, once, and falls back to the transaction when declined or failing', async () => {
    const first = await publishAlone('alone');
    await publishAlone('decline-me');
    await publishAlone('broken');

    // A redelivery of a handled event is recognised by the claim the statement wrote.
    await fixture.bus.jetstream.publish(fixture.bus.subject(EventStream.subjectOf('oms.pool.updated')), JSON.stringify(first), { msgID: `${first.id}-again` });
    // Acknowledged before the next is published, so that one comes alone too.
    const jsm = await fixture.bus.manager();
    for (let behind = 1; behind > 0; ) {
      behind = 0;
      // (Listing consumers is refused to a service: its own, by name.)
      const info = await jsm.consumers.info(fixture.bus.streamName, `${fixture.bus.prefix.replace(/\W/g, '_')}pla`);
      behind += info.num_pending + info.num_ack_pending;
      if (behind > 0) await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await publishAlone('marker');

    expect(handledBy).toEqual([
      ['alone', 'alone'],
      ['decline-me', 'transaction'],
      ['broken', 'transaction'],
      ['marker', 'alone'],
    ]);
    expect(committed).toEqual(['alone', 'decline-me', 'broken', 'marker']);
    expect(await fixture.dataSource.query('SELECT pool FROM pla.pools ORDER BY pool')).toEqual([{ pool: 'alone' }, { pool: 'broken' }, { pool: 'decline-me' }, { pool: 'marker' }]);
    expect(await fixture.dataSource.query('SELECT count(*)::int AS n FROM pla.processed_events')).toEqual([{ n: 4 }]);
  });
});

describe(ProcessedEventsRetention.name, () => {
  let fixture: Awaited<ReturnType<typeof eventsFixture>>;

  beforeAll(async () => {
    fixture = await eventsFixture('platform_retention', 'plr');
    await fixture.dataSource.query(processedEventsRetentionIndexUpSql('plr'));
  });

  afterAll(async () => {
    await fixture?.dispose();
  });

  it('forgets handled events once the stream can no longer deliver them, a chunk at a time, and keeps the rest', async () => {
    const now = new Date('2026-11-21T12:00:00Z');
    const cutoff = now.getTime() - PROCESSED_EVENTS_RETENTION_SECONDS * 1000;
    const insert = (count: number, processedAt: Date) =>
      fixture.dataSource.query(
        `INSERT INTO plr.processed_events (consumer, event_id, processed_at) SELECT 'plr', gen_random_uuid(), $2 FROM generate_series(1, $1::int)`,
        [count, processedAt],
      );
    await insert(PROCESSED_EVENTS_DELETE_CHUNK + 7, new Date(cutoff - 1000));
    await insert(3, new Date(cutoff + 1000)); // just inside the window
    await insert(5, now);
    const retention = new ProcessedEventsRetention(fixture.dataSource, 'plr', () => now, logger);

    expect(await retention.sweep()).toBe(PROCESSED_EVENTS_DELETE_CHUNK);
    expect(await retention.sweep()).toBe(7);
    expect(await retention.sweep()).toBe(0);
    expect(await fixture.dataSource.query('SELECT count(*)::int AS n FROM plr.processed_events')).toEqual([{ n: 8 }]);
    // The window is longer than the stream keeps events, so no row it drops could still be redelivered.
    expect(PROCESSED_EVENTS_RETENTION_SECONDS).toBeGreaterThan(EventStream.maxAgeSeconds);
  });
});

describe(RpcServer.name, () => {
  let env: Awaited<ReturnType<typeof freshTestEnvironment>>;
  /** OPS serves, the gateway calls: each as its NATS user, sharing an actor key. */
  let parts: TestNatsParts;
  let bus: NatsBus;
  let server: RpcServer;

  beforeAll(async () => {
    env = await freshTestEnvironment('platform_rpc');
    parts = new TestNatsParts(env.natsUrl, env.subjectPrefix, 'platform-test');
    bus = await parts.as('gateway');
    server = new RpcServer(await parts.as('ops'), 'ops', logger);
    // Awaited: serve() flushes its subscriptions, and the caller is another connection.
    await server.serve<'ops'>({
      'ops.metrics.pools': async (query, context) => {
        if (query.pool === 'explode') throw new Error('database on fire');
        if (query.pool === 'missing') throw DomainError.notFound('Pool', 'missing');
        return { pools: [{ pool: `${query.pool}:${context.actor.id}` } as never] };
      },
      // Only the subject above is called here.
      'ops.metrics.prometheus': () => Promise.reject(new Error('not called')),
      'ops.alert.list': () => Promise.reject(new Error('not called')),
      'ops.alert.acknowledge': () => Promise.reject(new Error('not called')),
      'ops.scaling.decisions': () => Promise.reject(new Error('not called')),
      'ops.alert.resolve': () => Promise.reject(new Error('not called')),
      'ops.parked-event.list': () => Promise.reject(new Error('not called')),
      'ops.parked-event.replay': () => Promise.reject(new Error('not called')),
    });
  });

  afterAll(async () => {
    await server?.stop();
    await parts?.close();
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

describe(`${EventConsumer.name} with a one-statement path for batches`, () => {
  /**
   * A consumer started once its events are all in the stream, so its first pull takes them as
   * one batch. Its one-statement path claims the batch and adds a row per fresh pool; the
   * transactional path adds the same rows. A CHECK constraint refuses the pool 'broken' on both
   * paths until the test drops it.
   */
  async function batchConsumer(label: string, pools: string[]) {
    const fixture = await eventsFixture(label, 'plb');
    await fixture.dataSource.query(`CREATE TABLE plb.pools (pool text PRIMARY KEY CONSTRAINT not_broken CHECK (pool <> 'broken'))`);
    const emitted = await fixture.outbox.transaction(async (_tx, emit) => pools.map((pool) => emit('oms.pool.updated', null, { pool }, 'tester')));
    for (let left = 1; left > 0; ) {
      [{ left }] = await fixture.dataSource.query('SELECT count(*)::int AS "left" FROM plb.outbox');
      if (left > 0) await new Promise((resolve) => setTimeout(resolve, 25));
    }
    const offered: string[][] = [];
    const byTransaction: string[] = [];
    const committed: string[] = [];
    const poolOf = (event: AnyHmsEvent) => (event.data as { pool: string }).pool;
    const consumer = new EventConsumer(
      fixture.bus,
      fixture.outbox,
      'plb',
      {
        durable: 'plb',
        filter: 'oms.>',
        handle: async (event, tx) => {
          await tx.query('INSERT INTO plb.pools (pool) VALUES ($1)', [poolOf(event)]);
          byTransaction.push(poolOf(event));
        },
        handleAtOnce: async (events) => {
          offered.push(events.map(({ event }) => poolOf(event)));
          const [row]: Array<{ claimed: string[] }> = await fixture.dataSource.query(
            `WITH claimed AS (${claimProcessedEventSql({ schema: 'plb', consumer: "'plb'", eventIds: 'unnest($1::uuid[])' })}),
                  added AS (INSERT INTO plb.pools (pool) SELECT e.pool FROM unnest($1::uuid[], $2::text[]) AS e(id, pool) JOIN claimed AS c ON c.event_id = e.id)
             SELECT ARRAY(SELECT event_id FROM claimed) AS claimed`,
            [events.map(({ event }) => event.id), events.map(({ event }) => poolOf(event))],
          );
          return { handled: new Set(row!.claimed) };
        },
        committed: (events) => committed.push(...events.map(poolOf)),
      },
      logger,
      { retryBaseMs: 20 },
    );
    return { fixture, consumer, emitted, offered, byTransaction, committed };
  }

  let running: Awaited<ReturnType<typeof batchConsumer>> | undefined;

  afterEach(async () => {
    await running?.fixture.dispose(running.consumer);
    running = undefined;
  });

  it('handles a batch of several events in one statement with no transaction, and each once when redelivered', async () => {
    running = await batchConsumer('platform_at_once', ['a', 'b', 'c', 'd']);
    const { fixture, consumer, emitted, offered, byTransaction, committed } = running;
    const statements = recordStatements();
    try {
      await consumer.start();
      await eventually(() => committed.length === 4);
    } finally {
      statements.stop();
    }
    expect(offered).toEqual([['a', 'b', 'c', 'd']]);
    expect(byTransaction).toEqual([]);
    // The consumer's only statement: no transaction (TypeORM's START TRANSACTION), one claim for the four.
    expect(statements.texts.filter((text) => text.includes('processed_events'))).toHaveLength(1);
    // (The outbox relay's poll is one statement of its own that begins with BEGIN, not a transaction's start.)
    expect(statements.transactions()).toBe(0);

    // Redelivered together (a relay that published them again past the de-duplication window), and a new one behind them.
    const subject = fixture.bus.subject(EventStream.subjectOf('oms.pool.updated'));
    for (const event of emitted) await fixture.bus.jetstream.publish(subject, JSON.stringify(event), { msgID: `${event.id}-again` });
    await fixture.outbox.transaction(async (_tx, emit) => emit('oms.pool.updated', null, { pool: 'marker' }, 'tester'));
    await eventually(() => committed.includes('marker'));
    expect(committed).toEqual(['a', 'b', 'c', 'd', 'marker']);
    expect(await fixture.dataSource.query('SELECT pool FROM plb.pools ORDER BY pool')).toEqual(['a', 'b', 'c', 'd', 'marker'].map((pool) => ({ pool })));
    expect(await fixture.dataSource.query('SELECT count(*)::int AS n FROM plb.processed_events')).toEqual([{ n: 5 }]);
  });

  it('falls back to transactions when the statement fails: the failing event fails alone, the rest are handled once', async () => {
    running = await batchConsumer('platform_at_once_fail', ['a', 'broken', 'b']);
    const { fixture, consumer, offered, byTransaction, committed } = running;
    await consumer.start();
    await eventually(() => committed.includes('a') && committed.includes('b'));
    expect(offered[0]).toEqual(['a', 'broken', 'b']);
    // The failed statement wrote nothing: a and b came by the transactional path (the batch's, rolled back, then each alone).
    expect([...new Set(byTransaction)].sort()).toEqual(['a', 'b']);
    expect(committed).toEqual(['a', 'b']);
    // Held back and tried again (its message, which carries a and b too: they are seen now); it goes through once its handler can take it.
    await eventually(() => offered.length >= 2);
    expect(offered.slice(1).every((batch) => batch.includes('broken'))).toBe(true);
    await fixture.dataSource.query('ALTER TABLE plb.pools DROP CONSTRAINT not_broken');
    await eventually(() => committed.includes('broken'));
    expect(committed).toEqual(['a', 'b', 'broken']);
    expect(await fixture.dataSource.query('SELECT pool FROM plb.pools ORDER BY pool')).toEqual(['a', 'b', 'broken'].map((pool) => ({ pool })));
    expect(await fixture.dataSource.query('SELECT count(*)::int AS n FROM plb.processed_events')).toEqual([{ n: 3 }]);
  });
});
