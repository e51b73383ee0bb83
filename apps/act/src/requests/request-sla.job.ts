import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, EventOutbox, LOGGER, PeriodicJob, type BackgroundJob, type Clock } from '@hms/platform';
import type { Logger } from 'pino';
import { ActConfig } from '../act.config';
import { markSlaBreaches } from './requests.repository';

/** The actor of `act.request.sla-breached` events. */
export const SLA_ACTOR = 'system:act-sla';

/** Most requests marked per transaction; a longer backlog is worked off in the following ticks. */
export const SLA_SWEEP_BATCH = 500;

/**
 * The request SLA sweep: every `ACT_SLA_SWEEP_MS` (0: never on its own; tests call `tick()`),
 * marks running requests past their `slaDueAt` as breached and emits one
 * `act.request.sla-breached` per request, in the same transaction. Every replica runs it;
 * `markSlaBreaches` (SKIP LOCKED, `sla_breached_at` set once) makes each breach happen once.
 */
@Injectable()
export class RequestSlaJob implements BackgroundJob {
  private job?: PeriodicJob;

  constructor(
    private readonly outbox: EventOutbox,
    private readonly config: ActConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.job || this.config.ACT_SLA_SWEEP_MS <= 0) return;
    this.job = new PeriodicJob('request-sla', this.config.ACT_SLA_SWEEP_MS, async () => ({ full: (await this.tick()) >= SLA_SWEEP_BATCH }), this.logger);
    this.job.start();
  }

  async stop(): Promise<void> {
    await this.job?.stop();
    this.job = undefined;
  }

  /** One sweep (one transaction); returns how many requests this replica marked as breached. */
  async tick(): Promise<number> {
    const breaches = await this.outbox.transaction(async (tx, emit) => {
      const marked = await markSlaBreaches(tx, this.clock.now(), SLA_SWEEP_BATCH);
      for (const breach of marked) {
        emit('act.request.sla-breached', breach.id, { plan: breach.plan, slaDueAt: breach.slaDueAt.toISOString() }, SLA_ACTOR);
      }
      return marked;
    });
    for (const breach of breaches) {
      this.logger.info({ requestId: breach.id, plan: breach.plan, slaDueAt: breach.slaDueAt.toISOString() }, 'request SLA breached');
    }
    return breaches.length;
  }
}
