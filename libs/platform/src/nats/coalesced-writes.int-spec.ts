import { readFileSync } from 'node:fs';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { NodeTransport } from '@nats-io/transport-node/lib/node_transport';
import { freePort, startNatsServer } from '@hms/testing';
import { NatsBus } from './nats-bus';
import { CoalescingTransport } from './coalesced-writes';

/** This process's write system calls so far (sockets included). */
function writeSyscalls(): number {
  return Number(/^syscw: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))![1]);
}

/** The transport a connection uses now: a reconnect replaces it (nats-core's ProtocolHandler.transport). */
function transportOf(connection: NatsConnection): NodeTransport {
  return (connection as unknown as { protocol: { transport: NodeTransport } }).protocol.transport;
}

/**
 * Publishes `count` messages, each from its own callback of one event-loop turn (as the gateway's
 * HTTP requests and ACT's database answers arrive), then waits for the server's PONG; returns the
 * write system calls that took and the frames the client handed its transport.
 */
async function publishFromSeparateCallbacks(connection: NatsConnection, subject: string, count: number): Promise<{ writes: number; sends: number }> {
  await connection.flush();
  const transport = transportOf(connection);
  const send = transport.send.bind(transport);
  let sends = 0;
  transport.send = (frame) => {
    sends += 1;
    send(frame);
  };
  try {
    const before = writeSyscalls();
    await new Promise<void>((resolve) => {
      let left = count;
      for (let i = 0; i < count; i += 1) {
        setImmediate(() => {
          connection.publish(subject, `m${i}`);
          left -= 1;
          if (left === 0) resolve();
        });
      }
    });
    await connection.flush();
    return { writes: writeSyscalls() - before, sends };
  } finally {
    transport.send = send;
  }
}

const MESSAGES = 500;

describe('NATS writes coalesced per event-loop turn', () => {
  // A server of its own without users: what is measured is the socket, not the permissions.
  let port: number;
  let server: Awaited<ReturnType<typeof startNatsServer>>;
  beforeAll(async () => {
    port = await freePort();
    server = await startNatsServer({ port });
  });
  afterAll(() => server.stop());

  // First: a plain connect() installs the package's plain transport process-wide, and a NatsBus
  // connected after it puts ours back (coalesced-writes.ts).
  it('without it, the client library writes once per callback that sends (why this module exists)', async () => {
    const plain = await connect({ servers: server.url });
    try {
      const { writes, sends } = await publishFromSeparateCallbacks(plain, 'coalesce.plain', MESSAGES);
      // The library flushes in a microtask: one frame per callback, each its own write(2).
      expect(sends).toBeGreaterThanOrEqual(MESSAGES);
      expect(writes).toBeGreaterThanOrEqual(MESSAGES);
    } finally {
      await plain.close();
    }
  });

  it('sends the frames of one turn in a few writes, and still through the package transport it extends', async () => {
    const bus = await NatsBus.connect(server.url, 'coalesce.', 'coalesce-test');
    try {
      // The hook points: the factory's transport is the one in use, and it is the package's.
      expect(transportOf(bus.connection)).toBeInstanceOf(CoalescingTransport);
      expect(transportOf(bus.connection)).toBeInstanceOf(NodeTransport);
      const { writes, sends } = await publishFromSeparateCallbacks(bus.connection, bus.subject('many'), MESSAGES);
      expect(sends).toBeGreaterThanOrEqual(MESSAGES);
      expect(writes).toBeLessThanOrEqual(10);
    } finally {
      await bus.close();
    }
  });

  it('writes a lone request by the end of its turn, and its reply arrives', async () => {
    const bus = await NatsBus.connect(server.url, 'coalesce.', 'coalesce-requester');
    const responder = await NatsBus.connect(server.url, 'coalesce.', 'coalesce-responder');
    try {
      responder.connection.subscribe(responder.subject('echo'), { callback: (_error, msg) => void msg.respond(`re:${msg.string()}`) });
      await responder.connection.flush();
      // Once, so the request's inbox subscription is not part of the lone request.
      await expect(bus.connection.request(bus.subject('echo'), 'warm')).resolves.toBeDefined();

      const socket = transportOf(bus.connection).socket;
      const turn = await new Promise<{ reply: Promise<string>; heldInTurn: number; leftAfterTurn: number }>((resolve) =>
        setImmediate(() => {
          const reply = bus.connection.request(bus.subject('echo'), 'lone').then((msg) => msg.string());
          // After the client's microtask flush: handed to the socket, held until the turn ends.
          queueMicrotask(() => {
            const heldInTurn = socket.writableLength;
            // Queued after the transport's uncork, in the next check phase: nothing left buffered.
            setImmediate(() => resolve({ reply, heldInTurn, leftAfterTurn: socket.writableLength }));
          });
        }),
      );
      expect(turn.heldInTurn).toBeGreaterThan(0);
      expect(turn.leftAfterTurn).toBe(0);
      await expect(turn.reply).resolves.toBe('re:lone');
    } finally {
      await bus.close();
      await responder.close();
    }
  });

  it('publishes on close without a drain, as when every send wrote at once', async () => {
    const bus = await NatsBus.connect(server.url, 'coalesce.', 'coalesce-closer');
    const listener = await NatsBus.connect(server.url, 'coalesce.', 'coalesce-listener');
    try {
      const received = new Promise<string>((resolve) => listener.connection.subscribe(listener.subject('last'), { max: 1, callback: (_error, msg) => resolve(msg.string()) }));
      await listener.connection.flush();
      bus.connection.publish(bus.subject('last'), 'before close');
      await bus.connection.close();
      await expect(received).resolves.toBe('before close');
    } finally {
      await bus.close();
      await listener.close();
    }
  });

  it('coalesces again on the new socket after the server restarts, and requests are answered', async () => {
    const bus = await NatsBus.connect(server.url, 'coalesce.', 'coalesce-reconnect');
    const reconnected = new Promise<void>((resolve) => bus.onConnectionChange((connected) => connected && resolve()));
    const first = transportOf(bus.connection);
    try {
      await server.stop();
      server = await startNatsServer({ port });
      await reconnected;

      const second = transportOf(bus.connection);
      expect(second).not.toBe(first);
      expect(second).toBeInstanceOf(CoalescingTransport);
      const { writes } = await publishFromSeparateCallbacks(bus.connection, bus.subject('after'), MESSAGES);
      expect(writes).toBeLessThanOrEqual(10);

      const responder = await NatsBus.connect(server.url, 'coalesce.', 'coalesce-reconnect-responder');
      try {
        responder.connection.subscribe(responder.subject('echo'), { callback: (_error, msg) => void msg.respond('back') });
        await responder.connection.flush();
        await expect(bus.connection.request(bus.subject('echo'), 'again').then((msg) => msg.string())).resolves.toBe('back');
      } finally {
        await responder.close();
      }
    } finally {
      await bus.close();
    }
  });
});
