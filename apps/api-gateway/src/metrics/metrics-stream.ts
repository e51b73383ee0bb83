import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { DomainError, METRICS_STREAMS_PER_TOKEN, systemActor, type PoolMetrics } from '@hms/contracts';
import { RpcGateway } from '../http/rpc-gateway';

/** How often a snapshot is sent (API.md: one snapshot per pool per second). */
export const METRICS_STREAM_PERIOD_MS = 1000;

/**
 * A snapshot that takes longer than a tenth of the period (a few ms normally; it grows with the
 * pools and the outcomes of the metrics window) stretches the period to ten times its duration,
 * so open dashboards never keep OPS's database busy more than a tenth of the time.
 */
const MAX_BUSY_SHARE = 0.1;

/** Gets every pool's snapshot, or why it could not. */
type Listener = (snapshot: { pools: PoolMetrics[] } | { error: unknown }) => void;

/**
 * One poll of OPS per period for all the stream's listeners on this gateway replica, however many
 * dashboards are open, and none while nobody listens.
 */
@Injectable()
export class MetricsStream implements OnModuleDestroy {
  private readonly listeners = new Map<Listener, () => void>();
  /** Open streams per token subject, for the cap. */
  private readonly openBy = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  /** A poll is on its way; it schedules the next one itself. */
  private polling = false;

  constructor(private readonly rpc: RpcGateway) {}

  /**
   * Starts delivering snapshots to `listener`; call the returned function to stop. `end` is
   * called if the gateway shuts down first: an open stream would otherwise hold the HTTP server
   * open until the orchestrator kills it.
   */
  listen(listener: Listener, end: () => void): () => void {
    this.listeners.set(listener, end);
    if (!this.timer && !this.polling) this.schedule(METRICS_STREAM_PERIOD_MS);
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.halt();
    };
  }

  /**
   * Counts a stream of `owner` as open until the returned function is called (it may be called
   * more than once); at METRICS_STREAMS_PER_TOKEN open streams, RATE_LIMITED instead.
   */
  admit(owner: string): () => void {
    const open = this.openBy.get(owner) ?? 0;
    if (open >= METRICS_STREAMS_PER_TOKEN) {
      throw new DomainError('RATE_LIMITED', `At most ${METRICS_STREAMS_PER_TOKEN} metrics streams may be open per token; close one first`);
    }
    this.openBy.set(owner, open + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.openBy.get(owner) ?? 1) - 1;
      if (left > 0) this.openBy.set(owner, left);
      else this.openBy.delete(owner);
    };
  }

  onModuleDestroy(): void {
    const ends = [...this.listeners.values()];
    this.listeners.clear();
    this.halt();
    for (const end of ends) end();
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => void this.poll(), delayMs);
  }

  private halt(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async poll(): Promise<void> {
    this.timer = undefined;
    this.polling = true;
    const started = Date.now();
    let snapshot: { pools: PoolMetrics[] } | { error: unknown };
    try {
      snapshot = await this.rpc.call('ops.metrics.pools', {}, systemActor('api-gateway'));
    } catch (error) {
      snapshot = { error };
    } finally {
      this.polling = false;
    }
    if (this.listeners.size === 0) return;
    for (const listener of this.listeners.keys()) listener(snapshot);
    const took = Date.now() - started;
    // Measured from the poll's start: a fast snapshot keeps the one-second rhythm.
    this.schedule(Math.max(METRICS_STREAM_PERIOD_MS, took / MAX_BUSY_SHARE) - took);
  }
}
