import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { systemActor, type PoolMetrics } from '@hms/contracts';
import { RpcGateway } from '../http/rpc-gateway';

/** How often a snapshot is sent (API.md: one snapshot per pool per second). */
export const METRICS_STREAM_PERIOD_MS = 1000;

/** Gets every pool's snapshot, or why it could not. */
type Listener = (snapshot: { pools: PoolMetrics[] } | { error: unknown }) => void;

/**
 * One poll of OPS per second for all the stream's listeners on this gateway replica, however many
 * dashboards are open, and none while nobody listens.
 */
@Injectable()
export class MetricsStream implements OnModuleDestroy {
  private readonly listeners = new Map<Listener, () => void>();
  private timer?: NodeJS.Timeout;
  private polling = false;

  constructor(private readonly rpc: RpcGateway) {}

  /**
   * Starts delivering snapshots to `listener`; call the returned function to stop. `end` is
   * called if the gateway shuts down first: an open stream would otherwise hold the HTTP server
   * open until the orchestrator kills it.
   */
  listen(listener: Listener, end: () => void): () => void {
    this.listeners.set(listener, end);
    this.timer ??= setInterval(() => void this.poll(), METRICS_STREAM_PERIOD_MS);
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.halt();
    };
  }

  onModuleDestroy(): void {
    const ends = [...this.listeners.values()];
    this.listeners.clear();
    this.halt();
    for (const end of ends) end();
  }

  private halt(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async poll(): Promise<void> {
    // A slow OPS must not pile polls up: the second that overlaps is skipped.
    if (this.polling) return;
    this.polling = true;
    let snapshot: { pools: PoolMetrics[] } | { error: unknown };
    try {
      snapshot = await this.rpc.call('ops.metrics.pools', {}, systemActor('api-gateway'));
    } catch (error) {
      snapshot = { error };
    } finally {
      this.polling = false;
    }
    for (const listener of this.listeners.keys()) listener(snapshot);
  }
}
