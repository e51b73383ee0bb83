import { NatsConnectionImpl, setTransportFactory, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
// Not re-exported by the package's index; the file is the package's own Node transport, the one
// its `connect()` installs (lib/connect.js). Pinned by coalesced-writes.int-spec.ts.
import { NodeTransport, nodeResolveHost } from '@nats-io/transport-node/lib/node_transport';
import type { Socket } from 'node:net';

/**
 * Buffered bytes at which a turn's writes go out before the turn ends: the client's own
 * threshold for writing inline (protocol.js FLUSH_THRESHOLD, 32 KiB) doubled, so a burst is not
 * held in memory longer than the library would have held it.
 */
const UNCORK_AT_BYTES = 64 * 1024;

/**
 * The client's Node transport, with all of one event-loop turn's writes in one system call.
 *
 * Why: nats.js flushes its outbound buffer in a microtask, so every request, reply or publish
 * made in its own I/O callback (an HTTP request at the gateway, a Postgres answer at ACT) is one
 * `write(2)`, and each wakes nats-server for one read. This transport corks the socket at the
 * first frame of a turn and uncorks it at `setImmediate`, which runs in the same loop iteration
 * right after the poll phase's I/O callbacks: the turn's frames leave as one `writev(2)`, and a
 * lone message waits for nothing but the callbacks already ready (libuv does not block in poll
 * while an immediate is pending).
 *
 * Safety: a transport is one socket; a reconnect makes a new transport through the same factory,
 * so nothing carries over. `close()` and `disconnect()` uncork first, so bytes handed to the
 * socket are written before it is destroyed, as they were when every send wrote at once;
 * `flush()`, `drain()` and the library's inline flush past `pendingLimit` all reach `send`, and
 * are at most one turn later. Sends never waited for the write callback (the library ignores it),
 * so the buffering is invisible to callers.
 */
export class CoalescingTransport extends NodeTransport {
  /** The socket corked for this turn, if any: one `uncork()` per `cork()`. */
  private corked?: Socket;

  override send(frame: Uint8Array): void {
    const socket = this.socket as Socket | undefined;
    if (!this.corked && socket && !this.isClosed && !socket.destroyed) {
      socket.cork();
      this.corked = socket;
      setImmediate(() => this.uncork());
    }
    super.send(frame);
    if (this.corked && this.corked.writableLength >= UNCORK_AT_BYTES) this.uncork();
  }

  override close(err?: Error): Promise<void> {
    this.uncork();
    return super.close(err);
  }

  override disconnect(): void {
    this.uncork();
    super.disconnect();
  }

  private uncork(): void {
    const socket = this.corked;
    this.corked = undefined;
    socket?.uncork();
  }
}

/**
 * `connect()` of @nats-io/transport-node, with {@link CoalescingTransport}: the package's connect
 * is these two calls with its plain transport. The factory is process-wide and read at every
 * (re)connect, so every connection in our processes is made here (NatsBus.connect); a plain
 * `connect()` from the package would put the plain transport back for later reconnects.
 */
export function connectCoalescing(options: ConnectionOptions): Promise<NatsConnection> {
  setTransportFactory({ factory: () => new CoalescingTransport(), dnsResolveFn: nodeResolveHost });
  return NatsConnectionImpl.connect(options);
}
