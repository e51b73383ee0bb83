import { Inject, Injectable } from '@nestjs/common';
import { LOGGER, PeriodicJob, type BackgroundJob } from '@hms/platform';
import type { Logger } from 'pino';
import { ActConfig } from '../act.config';
import { CHECKPOINT_BATCH, LedgerCheckpoints } from './ledger-checkpoints';

/**
 * Every `ACT_LEDGER_CHECKPOINT_MS` (0: never on its own; tests call `tick()`), writes a signed
 * checkpoint of the chain heads changed since the last one. Every replica runs it; the advisory
 * lock in {@link LedgerCheckpoints.write} lets one write at a time.
 */
@Injectable()
export class LedgerCheckpointJob implements BackgroundJob {
  private job?: PeriodicJob;

  constructor(
    private readonly checkpoints: LedgerCheckpoints,
    private readonly config: ActConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.job || this.config.ACT_LEDGER_CHECKPOINT_MS <= 0) return;
    if (!this.checkpoints.writes) {
      this.logger.warn('ledger checkpoints are off: set ACT_LEDGER_CHECKPOINT_DIR and ACT_LEDGER_CHECKPOINT_KEY (docs/security.md)');
      return;
    }
    this.job = new PeriodicJob('ledger-checkpoint', this.config.ACT_LEDGER_CHECKPOINT_MS, async () => ({ full: (await this.tick()) >= CHECKPOINT_BATCH }), this.logger);
    this.job.start();
  }

  async stop(): Promise<void> {
    await this.job?.stop();
    this.job = undefined;
  }

  /** One checkpoint; returns how many heads it took. */
  tick(): Promise<number> {
    return this.checkpoints.write();
  }
}
