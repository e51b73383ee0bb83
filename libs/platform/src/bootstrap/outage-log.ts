import type { Logger } from 'pino';
import { errorSummary, isDatabaseUnavailable } from '../database/database-outage';
import { isNatsUnavailable } from '../nats/nats-outage';

/** The parts whose absence a service waits out. */
export type OutagePart = 'Postgres' | 'NATS';

/** Which part an error says is away, if any. */
export function outagePartOf(error: unknown): OutagePart | undefined {
  if (isDatabaseUnavailable(error)) return 'Postgres';
  if (isNatsUnavailable(error)) return 'NATS';
  return undefined;
}

/**
 * Logs an outage of Postgres or NATS as one line when a component first meets it and one when
 * it works again, instead of a stack per failed tick, event or call. `failed` says which part
 * the error showed away (then it is logged here); any other error is the caller's to log.
 */
export class OutageLog {
  private failures = 0;
  private part?: OutagePart;

  constructor(
    private readonly logger: Logger,
    private readonly component: string,
  ) {}

  get down(): boolean {
    return this.failures > 0;
  }

  failed(error: unknown): OutagePart | undefined {
    const part = outagePartOf(error);
    if (!part) return undefined;
    if (this.part !== part) {
      this.logger.warn({ component: this.component, reason: errorSummary(error) }, `${part} is unavailable; retrying until it is back`);
      this.part = part;
    }
    this.failures += 1;
    return part;
  }

  succeeded(): void {
    if (this.failures === 0) return;
    this.logger.info({ component: this.component, failedAttempts: this.failures }, `${this.part} is back; resumed`);
    this.failures = 0;
    this.part = undefined;
  }
}
