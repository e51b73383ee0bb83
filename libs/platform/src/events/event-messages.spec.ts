import { EventStream } from '@hms/contracts';
import { MAX_EVENT_MESSAGE_BYTES, MAX_EVENTS_PER_MESSAGE, packEventMessages, unpackEventMessage, type OutboxRow } from './event-messages';

let nextId = 0;
function row(type: string, data: unknown = {}, headers: Record<string, string> | null = null, requestId: string | null = null): OutboxRow {
  nextId += 1;
  const eventId = `00000000-0000-4000-8000-${String(nextId).padStart(12, '0')}`;
  return { id: String(nextId), event_id: eventId, type, request_id: requestId, payload: JSON.stringify({ id: eventId, type, requestId, data }), headers };
}

/** An event of request `requestId`. */
const of = (requestId: string, type: string) => row(type, {}, null, requestId);

/** The event ids in the order a consumer reading the messages one after the other meets them. */
const streamOrder = (messages: Array<{ body: string }>) => messages.flatMap((m) => unpackEventMessage(m.body, () => undefined).map(({ event }) => (event as { id: string }).id));

const headerReader = (headers: Record<string, string>) => (name: string) => headers[name];

describe(packEventMessages.name, () => {
  it('sends consecutive events of one type together and starts a new message where the type changes', () => {
    const rows = [row('oms.task.leased'), row('oms.task.leased'), row('oms.task.leased'), row('oms.task.completed'), row('oms.task.leased')];
    const messages = packEventMessages(rows);
    expect(messages.map((m) => [m.type, m.msgId])).toEqual([
      ['oms.task.leased', `${rows[0]!.event_id}+3`],
      ['oms.task.completed', rows[3]!.event_id],
      ['oms.task.leased', rows[4]!.event_id],
    ]);
    expect(JSON.parse(messages[0]!.body)).toEqual(rows.slice(0, 3).map((r) => JSON.parse(r.payload)));
    // A lone event is sent exactly as stored: its envelope, not an array of one.
    expect(messages[1]!.body).toBe(rows[3]!.payload);
  });

  it("packs requests' events by type across requests, keeping each request's order", () => {
    // Requests created side by side: their events alternate in the outbox.
    const rows = ['a', 'b', 'c'].flatMap((request) => [of(request, 'act.request.created'), of(request, 'act.step.ready')]);
    const messages = packEventMessages(rows);
    expect(messages.map((m) => [m.type, m.msgId])).toEqual([
      ['act.request.created', `${rows[0]!.event_id}+3`],
      ['act.step.ready', `${rows[1]!.event_id}+3`],
    ]);
    // The same rows give the same messages (a relay's re-publish is de-duplicated by message id).
    expect(packEventMessages(rows)).toEqual(messages);
  });

  it("never puts a request's event before an earlier one of its own, nor anything across an event of no request", () => {
    const sameTask = [of('a', 'oms.task.leased'), of('a', 'oms.task.completed'), of('a', 'oms.task.leased')];
    expect(packEventMessages(sameTask)).toHaveLength(3);
    const otherRequest = [of('a', 'oms.task.leased'), of('a', 'oms.task.completed'), of('b', 'oms.task.leased')];
    expect(streamOrder(packEventMessages(otherRequest))).toEqual([0, 2, 1].map((i) => otherRequest[i]!.event_id));
    const barrier = [of('a', 'oms.task.leased'), row('oms.worker.online'), of('b', 'oms.task.leased')];
    expect(streamOrder(packEventMessages(barrier))).toEqual(barrier.map((r) => r.event_id));
    expect(packEventMessages(barrier)).toHaveLength(3);
  });

  it('keeps every request\'s order and every barrier\'s place, whatever the rows (randomised)', () => {
    const types = ['act.request.created', 'act.step.ready', 'oms.task.queued', 'oms.task.leased'];
    for (let round = 0; round < 200; round += 1) {
      const rows = Array.from({ length: 1 + Math.floor(Math.random() * 40) }, () => {
        const type = types[Math.floor(Math.random() * types.length)]!;
        return Math.random() < 0.1 ? row(type) : of(`r${Math.floor(Math.random() * 5)}`, type);
      });
      const position = new Map(streamOrder(packEventMessages(rows, 2_000)).map((id, index) => [id, index]));
      expect(position.size).toBe(rows.length);
      for (let i = 0; i < rows.length; i += 1) {
        for (let j = i + 1; j < rows.length; j += 1) {
          const [x, y] = [rows[i]!, rows[j]!];
          if (x.request_id === null || y.request_id === null || x.request_id === y.request_id) expect(position.get(x.event_id)!).toBeLessThan(position.get(y.event_id)!);
        }
      }
    }
  });

  it('caps a message by event count and by body size, and sends an oversized event alone', () => {
    const many = Array.from({ length: MAX_EVENTS_PER_MESSAGE + 1 }, () => row('oms.task.leased'));
    expect(packEventMessages(many).map((m) => (m.body.startsWith('[') ? JSON.parse(m.body).length : 1))).toEqual([MAX_EVENTS_PER_MESSAGE, 1]);

    const big = 'x'.repeat(MAX_EVENT_MESSAGE_BYTES / 3);
    const sized = [row('oms.task.completed', big), row('oms.task.completed', big), row('oms.task.completed', big), row('oms.task.completed', 'x'.repeat(MAX_EVENT_MESSAGE_BYTES))];
    const messages = packEventMessages(sized);
    expect(messages.map((m) => m.msgId)).toEqual([`${sized[0]!.event_id}+2`, sized[2]!.event_id, sized[3]!.event_id]);
    for (const message of messages.slice(0, 2)) expect(Buffer.byteLength(message.body)).toBeLessThanOrEqual(MAX_EVENT_MESSAGE_BYTES);
  });

  it('sizes a run to the byte budget it is given (the server\'s max_payload less headers), trace headers included', () => {
    const traced = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };
    const rows = Array.from({ length: 4 }, () => row('oms.task.completed', 'x'.repeat(1_000), traced));
    const budget = 2 * (Buffer.byteLength(rows[0]!.payload) + 1 + JSON.stringify(traced).length + 1) + 4;
    const messages = packEventMessages(rows, budget);
    expect(messages.map((m) => m.msgId)).toEqual([`${rows[0]!.event_id}+2`, `${rows[2]!.event_id}+2`]);
    for (const message of messages) {
      expect(Buffer.byteLength(message.body) + Buffer.byteLength(message.headers[EventStream.eventTracesHeader]!)).toBeLessThanOrEqual(budget);
    }
    expect(packEventMessages(rows, budget - 1)).toHaveLength(4);
  });

  it("keeps each event's trace context: a lone event's in the headers, a run's in one header, in order", () => {
    const traced = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };
    const [lone] = packEventMessages([row('oms.task.queued', {}, traced)]);
    expect(lone!.headers).toEqual(traced);

    const [run] = packEventMessages([row('oms.task.queued'), row('oms.task.queued', {}, traced)]);
    expect(JSON.parse(run!.headers[EventStream.eventTracesHeader]!)).toEqual([null, traced]);
    // Nothing to carry, no header.
    expect(packEventMessages([row('oms.task.queued'), row('oms.task.queued')])[0]!.headers).toEqual({});
  });
});

describe(unpackEventMessage.name, () => {
  it('gives back the events of a run with their traces, and a lone event with the trace of its headers', () => {
    const traced = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'hms=1' };
    const rows = [row('oms.task.leased', { n: 1 }, traced), row('oms.task.leased', { n: 2 })];
    const [run] = packEventMessages(rows);
    expect(unpackEventMessage(run!.body, headerReader(run!.headers))).toEqual([
      { event: JSON.parse(rows[0]!.payload), trace: traced },
      { event: JSON.parse(rows[1]!.payload), trace: null },
    ]);

    const [lone] = packEventMessages([row('oms.task.leased', { n: 3 }, traced)]);
    expect(unpackEventMessage(lone!.body, headerReader(lone!.headers))).toEqual([{ event: JSON.parse(lone!.body), trace: traced }]);
    expect(unpackEventMessage('{"id":"x"}', () => undefined)).toEqual([{ event: { id: 'x' }, trace: null }]);
  });

  it('costs events with a malformed traces header their trace only, and throws on a body that is not JSON', () => {
    expect(unpackEventMessage('[{"id":"a"},{"id":"b"}]', (name) => (name === EventStream.eventTracesHeader ? 'not json' : undefined))).toEqual([
      { event: { id: 'a' }, trace: null },
      { event: { id: 'b' }, trace: null },
    ]);
    expect(unpackEventMessage('[{"id":"a"}]', (name) => (name === EventStream.eventTracesHeader ? '[7]' : undefined))).toEqual([{ event: { id: 'a' }, trace: null }]);
    expect(() => unpackEventMessage('not json', () => undefined)).toThrow();
  });
});
