import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, LOGGER, PeriodicJob, type BackgroundJob, type Clock } from '@hms/platform';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { ActConfig } from '../act.config';
import { RequestsService } from '../requests/requests.service';
import { fireTimesDue } from './fire-times';
import { scheduledPlans, type ScheduledPlan } from './schedules.repository';

/** The actor of scheduled requests (in `createdBy` and on their events). */
export const SCHEDULER_ACTOR = 'system:act-scheduler';

/** How late a fire time may run in full; older missed ones collapse into the most recent (see fireTimesDue). */
export function graceMsOf(tickMs: number): number {
  return Math.max(5_000, 3 * tickMs);
}

/**
 * Runs plan schedules: every `ACT_SCHEDULE_TICK_MS` (0: never on its own; tests call `tick()`),
 * creates the requests of the fire times due. Every replica runs it; the `schedule_fires` primary
 * key makes each fire time create one request only.
 */
@Injectable()
export class ScheduleRunner implements BackgroundJob {
  private job?: PeriodicJob;

  constructor(
    private readonly dataSource: DataSource,
    private readonly requests: RequestsService,
    private readonly config: ActConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.job || this.config.ACT_SCHEDULE_TICK_MS <= 0) return;
    const tick = async () => {
      await this.tick();
      return { full: false };
    };
    this.job = new PeriodicJob('schedules', this.config.ACT_SCHEDULE_TICK_MS, tick, this.logger);
    this.job.start();
  }

  async stop(): Promise<void> {
    await this.job?.stop();
    this.job = undefined;
  }

  /** One pass over every scheduled plan; returns how many requests this replica created. */
  async tick(): Promise<number> {
    const now = this.clock.now();
    let created = 0;
    for (const plan of await scheduledPlans(this.dataSource.manager)) {
      try {
        created += await this.runPlan(plan, now);
      } catch (error) {
        // The fire row rolled back with the request: the next tick tries the same fire time again.
        this.logger.error({ err: error, plan: plan.plan, version: plan.version }, 'scheduled request failed; will retry');
      }
    }
    return created;
  }

  private async runPlan(plan: ScheduledPlan, now: Date): Promise<number> {
    const after = new Date(Math.max(plan.registeredAt.getTime(), plan.lastFireAt?.getTime() ?? -Infinity));
    let created = 0;
    for (const fireAt of fireTimesDue(plan.schedule, after, now, graceMsOf(this.config.ACT_SCHEDULE_TICK_MS))) {
      const result = await this.requests.createScheduled(
        { plan: plan.plan, version: plan.version, fireAt, payload: plan.schedule.payload ?? {} },
        SCHEDULER_ACTOR,
      );
      if (result) {
        created++;
        this.logger.info({ plan: plan.plan, version: plan.version, fireAt: fireAt.toISOString(), requestId: result.request.id }, 'scheduled request created');
      }
    }
    return created;
  }
}
