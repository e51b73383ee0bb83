import { clientFromEnvironment, HmsApiError, type PoolMetrics } from '@hms/client';

/** One reading, as the guides print it: `metric.name`, `metric.value`. */
export interface Metric {
  name: MetricName;
  value: number;
  queue: string;
  /** When OPS took the snapshot (ISO-8601). */
  at: string;
}

/**
 * The names a snapshot becomes. `queue.waitTime` is the oldest queued task's wait in seconds (the
 * number an SLA alert compares); `worker.successRate` is the percentage of finished tasks that
 * completed (absent until one finished).
 */
export type MetricName =
  | 'queue.length'
  | 'queue.leased'
  | 'queue.waitTime'
  | 'queue.waitP50'
  | 'queue.waitP95'
  | 'queue.throughputPerMinute'
  | 'worker.successRate'
  | 'worker.online'
  | 'worker.desiredReplicas';

/** A pool snapshot as named metrics; readings OPS does not have yet (null) are left out. */
export function metricsOf(snapshot: PoolMetrics): Metric[] {
  const readings: Array<[MetricName, number | null]> = [
    ['queue.length', snapshot.depth],
    ['queue.leased', snapshot.leased],
    ['queue.waitTime', snapshot.oldestWaitSeconds],
    ['queue.waitP50', snapshot.waitP50Seconds],
    ['queue.waitP95', snapshot.waitP95Seconds],
    ['queue.throughputPerMinute', snapshot.throughputPerMinute],
    ['worker.successRate', snapshot.successRate === null ? null : Math.round(snapshot.successRate * 1000) / 10],
    ['worker.online', snapshot.workersOnline],
    ['worker.desiredReplicas', snapshot.desiredReplicas],
  ];
  return readings
    .filter((reading): reading is [MetricName, number] => reading[1] !== null)
    // Milliseconds are the finest grain OPS measures; more digits are float noise (6.9830000000000005).
    .map(([name, value]) => ({ name, value: Math.round(value * 1000) / 1000, queue: snapshot.pool, at: snapshot.updatedAt }));
}

export interface StreamOptions {
  headers?: Record<string, string>;
  /** Stops the stream, like `stop()`. */
  signal?: AbortSignal;
  /**
   * Told when the connection breaks (it is opened again a second later), and when the gateway
   * refuses the stream (a bad token or queue name: it ends, and `done` rejects); stderr by default.
   */
  onError?: (error: unknown) => void;
}

/** A running stream: `stop()` ends it; `done` settles when it has ended. */
export interface MetricStream {
  stop(): void;
  done: Promise<void>;
}

const RECONNECT_MS = 1_000;

/**
 * The live metrics of the guides (chapter "Management Layer": liveMetrics.js), over the gateway's
 * Server-Sent Events: every second, each reading of the queue's snapshot is handed to `onMetric`.
 */
export class OpsClient {
  static stream(queue: string, onMetric: (metric: Metric) => void, options: StreamOptions = {}): MetricStream {
    const { client } = clientFromEnvironment({ headers: options.headers });
    const stopper = new AbortController();
    options.signal?.addEventListener('abort', () => stopper.abort(), { once: true });
    const onError = options.onError ?? ((error: unknown) => console.error(`[hms metrics] ${error instanceof Error ? error.message : String(error)}`));
    const done = (async () => {
      while (!stopper.signal.aborted) {
        try {
          for await (const event of client.metrics.stream({ pool: queue }, { signal: stopper.signal })) {
            if (event.event === 'pool') for (const metric of metricsOf(event.snapshot)) onMetric(metric);
          }
        } catch (error) {
          if (stopper.signal.aborted) return;
          onError(error);
          // A refused stream (bad token, bad queue name) will not get better by reconnecting.
          if (error instanceof HmsApiError && !error.retryable && error.status !== 0) throw error;
        }
        await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS));
      }
    })();
    // onError has said it; a caller that never awaits `done` (as the guide's snippet) gets no unhandled rejection.
    done.catch(() => undefined);
    return { stop: () => stopper.abort(), done };
  }
}
