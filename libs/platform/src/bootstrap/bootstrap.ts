import { NestFactory } from '@nestjs/core';
import type { INestApplication } from '@nestjs/common';
import type { Logger } from 'pino';
import { ConfigError } from '../config/load-config';
import { PinoNestLogger } from '../http/nest-logger';
import { LOGGER } from './tokens';

/**
 * Creates and starts a service's Nest application on its HTTP port, with graceful shutdown on
 * SIGTERM/SIGINT. A start-up failure is logged in one readable line and exits non-zero.
 */
export async function bootstrapService(
  module: unknown,
  options: { port: number; configure?: (app: INestApplication) => void | Promise<void> },
): Promise<INestApplication> {
  const app = await NestFactory.create(module as never, { bufferLogs: true, abortOnError: false });
  const logger = app.get<Logger>(LOGGER);
  app.useLogger(new PinoNestLogger(logger));
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  await options.configure?.(app);
  await app.listen(options.port, '0.0.0.0');
  const address = app.getHttpServer().address();
  logger.info({ port: typeof address === 'object' && address ? address.port : options.port }, 'listening');
  return app;
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
