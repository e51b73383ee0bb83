import { Backoff, CONFIG_ERROR_EXIT_CODE, WakeableSleep, type BackoffPolicy } from '@hms/platform';
import type { ServiceExit, ServiceProcess } from './stack';

/**
 * `npm start`'s restart policy: 0.5 s doubling to 30 s; a service that stayed up for a minute
 * before it exited starts again from 0.5 s (a crash an hour later is not the tenth in a row).
 */
export const RESTART_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 30_000, resetAfterMs: 60_000 };

/** One line on why a process ended: its exit code or signal, and the last error it printed. */
export function describeExit(exit: Pick<ServiceExit, 'code' | 'signal' | 'lastError'>): string {
  const how = exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
  return exit.lastError ? `${how}: ${exit.lastError}` : how;
}

/**
 * Keeps a service running: when its process ends without being asked to, it is started again
 * after a backoff ({@link RESTART_BACKOFF}), and the log says why it ended. A service that
 * exits with an invalid configuration is not restarted (it would fail the same way).
 */
export class ServiceSupervisor {
  private readonly backoff: Backoff;
  private stopped = false;
  private restarting = false;
  private readonly pause = new WakeableSleep();
  private restartLoop?: Promise<void>;
  /** The last exit nobody asked for. */
  private lastExit?: ServiceExit;
  /** How many times the service was started again. */
  restarts = 0;

  constructor(
    private readonly service: ServiceProcess,
    private readonly log: (line: string) => void,
    policy: BackoffPolicy = RESTART_BACKOFF,
  ) {
    this.backoff = new Backoff(policy);
    service.onExit((exit) => {
      if (exit.requested || this.stopped) return;
      this.lastExit = exit;
      if (!this.restarting) this.restartLoop = this.restartAfter(exit);
    });
  }

  private async restartAfter(first: ServiceExit): Promise<void> {
    this.restarting = true;
    let exit = first;
    try {
      for (;;) {
        if (exit.code === CONFIG_ERROR_EXIT_CODE) {
          this.log(`${this.service.name} exited with an invalid configuration; not restarting it (fix the settings above and run again)`);
          return;
        }
        const delayMs = this.backoff.next(exit.ranForMs);
        this.log(`${this.service.name} exited (${describeExit(exit)}); restarting in ${delayMs} ms (attempt ${this.backoff.failures})`);
        await this.pause.sleep(delayMs);
        if (this.stopped) return;
        const startedAt = Date.now();
        this.lastExit = undefined;
        try {
          await this.service.start();
          this.restarts += 1;
          this.log(`${this.service.name} restarted and ready`);
          return;
        } catch (error) {
          // It ended during start (lastExit says how), or never got ready (then it is stopped here).
          await this.service.stop();
          if (this.stopped) return;
          exit = this.lastExit ?? { code: null, signal: null, requested: false, ranForMs: Date.now() - startedAt, lastError: (error as Error).message.split('\n')[0] ?? '' };
        }
      }
    } finally {
      this.restarting = false;
    }
  }

  /** No more restarts from now on (the stack calls it on every supervisor before stopping any service). */
  halt(): void {
    this.stopped = true;
    this.pause.wake();
  }

  /** Stops watching (no more restarts) and stops the service. */
  async stop(): Promise<void> {
    this.halt();
    // Stopping the process first ends a start in progress at once, rather than when it is ready.
    await this.service.stop();
    await this.restartLoop;
  }
}
