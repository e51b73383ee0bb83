import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type TextMapGetter,
  type TextMapSetter,
} from '@opentelemetry/api';
import type { MsgHdrs } from '@nats-io/transport-node';

let sdkShutdown: (() => Promise<void>) | undefined;

/**
 * Starts the OpenTelemetry Node SDK with auto-instrumentation (node:http, pg; Fastify has none of its own) when an OTLP
 * endpoint is configured. Must run before the instrumented libraries are required, so every
 * `main.ts` calls it first and loads the rest of the app afterwards.
 */
export function startTracing(serviceName: string, env: Record<string, string | undefined> = process.env): void {
  if (sdkShutdown || !env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_SDK_DISABLED === 'true') return;
  // Required lazily: the SDK and its instrumentations are heavy and unused without an exporter.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { NodeSDK } = require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { getNodeAutoInstrumentations } = require('@opentelemetry/auto-instrumentations-node') as typeof import('@opentelemetry/auto-instrumentations-node');
  const sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME ?? serviceName,
    instrumentations: [getNodeAutoInstrumentations({ '@opentelemetry/instrumentation-fs': { enabled: false } })],
  });
  sdk.start();
  sdkShutdown = () => sdk.shutdown();
}

export async function stopTracing(): Promise<void> {
  await sdkShutdown?.();
  sdkShutdown = undefined;
}

const natsHeaderSetter: TextMapSetter<MsgHdrs> = {
  set: (carrier, key, value) => carrier.set(key, value),
};

/** Where an incoming trace context is read from: NATS message headers, or a plain object of them (an event of a multi-event message). */
export type IncomingTraceCarrier = MsgHdrs | Record<string, string> | null | undefined;

const isNatsHeaders = (carrier: NonNullable<IncomingTraceCarrier>): carrier is MsgHdrs => typeof (carrier as MsgHdrs).get === 'function' && typeof (carrier as MsgHdrs).keys === 'function';

const incomingHeaderGetter: TextMapGetter<IncomingTraceCarrier> = {
  get: (carrier, key) => (carrier ? (isNatsHeaders(carrier) ? carrier.get(key) : carrier[key]) || undefined : undefined),
  keys: (carrier) => (carrier ? (isNatsHeaders(carrier) ? carrier.keys() : Object.keys(carrier)) : []),
};

/** Writes the active trace context (W3C `traceparent`) into outgoing NATS headers. */
export function injectTraceContext(headers: MsgHdrs): void {
  propagation.inject(context.active(), headers, natsHeaderSetter);
}

/** The trace context carried by incoming NATS headers (or a plain object of them). */
export function extractTraceContext(carrier: IncomingTraceCarrier): Context {
  return propagation.extract(ROOT_CONTEXT, carrier, incomingHeaderGetter);
}

const tracer = trace.getTracer('hms');

/** Runs `work` in a span that continues the trace of the incoming NATS message. */
export function withConsumerSpan<T>(name: string, carrier: IncomingTraceCarrier, work: () => Promise<T>): Promise<T> {
  return context.with(extractTraceContext(carrier), () =>
    tracer.startActiveSpan(name, { kind: SpanKind.CONSUMER }, async (span) => {
      try {
        return await work();
      } catch (error) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
        throw error;
      } finally {
        span.end();
      }
    }),
  );
}

/** Runs `work` in a client span for an outgoing NATS request. */
export function withProducerSpan<T>(name: string, work: () => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, { kind: SpanKind.CLIENT }, async (span) => {
    try {
      return await work();
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  });
}
