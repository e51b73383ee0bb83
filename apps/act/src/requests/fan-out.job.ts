import { Inject, Injectable } from '@nestjs/common';
import { EventOutbox, LOGGER, PeriodicJob, type BackgroundJob } from '@hms/platform';
import type { Logger } from 'pino';
import { ActConfig } from '../act.config';
import { emittingFanOuts } from './fan-out.repository';
import { WorkflowService } from './workflow.service';

/**
 * Items one emitter transaction queues: large enough that 100,000 items are a hundred
 * transactions, small enough that one holds its request's lock (which the consumer needs to count
 * completions) for a few tens of milliseconds and writes a bounded outbox batch (the relay sends
 * it as runs of up to 100 events per message).
 */
export const FAN_OUT_CHUNK = 1000;

/** Fan-outs looked at per tick (each gets one chunk per tick, so several requests' fan-outs progress side by side). */
const FAN_OUTS_PER_TICK = 20;

/**
 * The fan-out emitter: queues the items of started fan-outs (`act.fan_outs` rows still
 * `emitting`) as `act.step.ready` events, a chunk per transaction, until each list is emitted.
 * Woken when a fan-out is stored on this replica (the consumer's commit), and every
 * `ACT_FAN_OUT_TICK_MS` otherwise, so another replica's or a crashed replica's fan-outs are
 * picked up too. Replicas working on the same fan-out take turns on its request's lock, and each
 * chunk starts where the last committed one ended, so no item is emitted twice.
 */
@Injectable()
export class FanOutJob implements BackgroundJob {
  private job?: PeriodicJob;

  constructor(
    private readonly workflow: WorkflowService,
    private readonly outbox: EventOutbox,
    private readonly config: ActConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.job || this.config.ACT_FAN_OUT_TICK_MS <= 0) return;
    this.job = new PeriodicJob('fan-out', this.config.ACT_FAN_OUT_TICK_MS, async () => ({ full: (await this.tick()) > 0 }), this.logger);
    this.job.start();
  }

  async stop(): Promise<void> {
    await this.job?.stop();
    this.job = undefined;
  }

  /** Runs the next tick now (a fan-out was stored). */
  wake(): void {
    this.job?.poke();
  }

  /** One chunk of each fan-out with items left; returns the items emitted (0: nothing to do). */
  async tick(): Promise<number> {
    let emitted = 0;
    const fanOuts = await this.outbox.transaction((tx) => emittingFanOuts(tx, FAN_OUTS_PER_TICK));
    for (const { requestId, stepId } of fanOuts) emitted += await this.workflow.emitFanOutChunk(requestId, stepId, FAN_OUT_CHUNK);
    return emitted;
  }
}
