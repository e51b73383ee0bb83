import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Logger } from 'pino';
import { ConfigError } from '../config/load-config';
import { PinoNestLogger } from '../http/nest-logger';
import { ServiceRuntime } from './service-runtime';
import { LOGGER } from './tokens';

/** The Fastify server options a service may set (the gateway: its body limit, proxies and router). */
export type HttpServerOptions = NonNullable<ConstructorParameters<typeof FastifyAdapter>[0]>;

/**
 * Creates and starts a service's Nest application on its HTTP port (Fastify, for every service:
 * one HTTP framework, and the cheaper one per call, docs/performance-history.md), with graceful
 * shutdown on SIGTERM/SIGINT. A service (one with a {@link ServiceRuntime}) is a hybrid
 * application: its RPC handlers are a Nest microservice on the NATS transport, serving before the
 * HTTP port (and so readiness) opens. A start-up failure is logged in one readable line and exits
 * non-zero.
 */
export async function bootstrapService(
  module: unknown,
  options: { port: number; http?: HttpServerOptions; configure?: (app: NestFastifyApplication) => void | Promise<void> },
): Promise<NestFastifyApplication> {
  // Node's own limit on receiving a whole request (Fastify turns it off by default): a client
  // that trickles a body or its headers is cut off after 5 minutes, as under plain node:http.
  const adapter = new FastifyAdapter({ requestTimeout: 300_000, ...options.http });
  const app = await NestFactory.create<NestFastifyApplication>(module as never, adapter, { bufferLogs: true, abortOnError: false });
  const logger = app.get<Logger>(LOGGER);
  keepServingOnUnhandledRejection(logger);
  app.useLogger(new PinoNestLogger(logger));
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  const runtime = serviceRuntimeOf(app);
  if (runtime) app.connectMicroservice({ strategy: runtime.rpcTransport() });
  await options.configure?.(app);
  await app.init();
  await app.startAllMicroservices();
  await app.listen(options.port, '0.0.0.0');
  const address = app.getHttpServer().address();
  logger.info({ port: typeof address === 'object' && address ? address.port : options.port }, 'listening');
  return app;
}

function serviceRuntimeOf(app: NestFastifyApplication): ServiceRuntime | undefined {
  try {
    return app.get(ServiceRuntime, { strict: false });
  } catch {
    // The gateway has no runtime: it serves no RPC subjects.
    return undefined;
  }
}

/**
 * The exit code of a service whose configuration is invalid (EX_CONFIG of sysexits.h): starting
 * it again cannot help, so a supervisor does not.
 */
export const CONFIG_ERROR_EXIT_CODE = 78;

/**
 * Runs a service's `main`, turning a failure into one log line and exit code 1; an invalid
 * configuration into its list of problems (no stack: it is not a bug) and {@link CONFIG_ERROR_EXIT_CODE}.
 */
export function runMain(start: () => Promise<unknown>): void {
  start().catch((error: Error) => {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(CONFIG_ERROR_EXIT_CODE);
    }
    process.stderr.write(`${JSON.stringify({ level: 'fatal', msg: 'failed to start', err: error.message, stack: error.stack })}\n`);
    process.exit(1);
  });
}

let rejectionsLogged = false;

/**
 * Node ends the process on a promise rejection nobody handles. In a service that turns one bug
 * on one call (a reply that cannot be sent, a detached promise in a callback) into an outage of
 * every call, and under a supervisor into a restart loop, while the rest of the process (its
 * connections, its other calls in flight) is sound. So a stray rejection is logged in one line,
 * with the cause, and the service keeps serving. The sources are still fixed where found (the
 * RPC server, the outbox relay and the consumers handle their own errors); this is the net.
 * Installed once per process, however many applications it runs (the integration tests run
 * several replicas in one process).
 */
function keepServingOnUnhandledRejection(logger: Logger): void {
  if (rejectionsLogged) return;
  rejectionsLogged = true;
  process.on('unhandledRejection', (reason) => {
    // A non-Error reason (any object) is logged as its string, not dumped whole.
    const err = reason instanceof Error ? reason : new Error(String(reason));
    logger.error({ err }, 'unhandled promise rejection (the service keeps serving)');
  });
}
