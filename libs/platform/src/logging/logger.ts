import pino, { Logger } from 'pino';
import { trace } from '@opentelemetry/api';
import { DomainError } from '@hms/contracts';
import { errorSummary } from '../database/database-outage';
import { outagePartOf } from '../bootstrap/outage-log';

export type { Logger };

/**
 * A JSON logger for one service. Every line carries the active trace id, so a log line leads
 * straight to its trace.
 */
export function createLogger(service: string, level = 'info'): Logger {
  return pino({
    name: service,
    level,
    serializers: { err: serializeError },
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

/**
 * `err` of a log line. An expected failure (a domain error such as another service answering
 * UNAVAILABLE, or Postgres or NATS being away) is one short object with its message and no stack or
 * driver fields (a broken connection's error can carry the whole client): a stack per retry
 * buries everything else. Anything else is logged in full, stack included.
 */
export function serializeError(error: unknown): unknown {
  if (error instanceof DomainError) return { type: error.name, code: error.code, message: error.message };
  if (outagePartOf(error)) return { type: (error as Error).name ?? 'Error', message: errorSummary(error) };
  return error instanceof Error ? pino.stdSerializers.err(error) : error;
}
