import type { BackgroundJob } from './service-runtime';
import type { Logger } from 'pino';
import { OutageLog } from './outage-log';
import { WakeableSleep } from './wakeable-sleep';

/**
 * Runs `tick` every `intervalMs`, and again at once while it reports a full batch (a backlog is
 * drained without waiting a period per batch) or was poked meanwhile. A failing tick is logged
 * and retried next period (while Postgres is away, one line when it goes and one when it is
 * back, see {@link OutageLog}); stop() waits for the running tick.
 */
export class PeriodicJob implements BackgroundJob {
  private running = false;
  private loop?: Promise<void>;
  private readonly pause = new WakeableSleep();
  private poked = false;
  private readonly outage: OutageLog;

  constructor(
    private readonly name: string,
    private readonly intervalMs: number,
    private readonly tick: () => Promise<{ full: boolean }>,
    private readonly logger: Logger,
  ) {
    this.outage = new OutageLog(logger, `job ${name}`);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Runs the next tick now instead of after the period (or right after the one running). */
  poke(): void {
    this.poked = true;
    this.pause.wake();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.pause.wake();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      let full = false;
      this.poked = false;
      try {
        full = (await this.tick()).full;
        this.outage.succeeded();
      } catch (error) {
        if (!this.outage.failed(error)) this.logger.warn({ err: error, job: this.name }, 'background job failed; retrying next period');
      }
      if (!full && !this.poked && this.running) await this.pause.sleep(this.intervalMs);
    }
  }
}
