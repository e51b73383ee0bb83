import pino, { Logger } from 'pino';
import { trace } from '@opentelemetry/api';

export type { Logger };

/**
 * A JSON logger for one service. Every line carries the active trace id, so a log line leads
 * straight to its trace.
 */
export function createLogger(service: string, level = 'info'): Logger {
  return pino({
    name: service,
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin() {
      const span = trace.getActiveSpan();
      if (!span) return {};
      const { traceId, spanId } = span.spanContext();
      return { traceId, spanId };
    },
  });
}
