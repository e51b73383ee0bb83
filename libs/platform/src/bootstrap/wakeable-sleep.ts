/**
 * A wait that can be cut short: loops that pause between rounds (background jobs, a consumer
 * waiting out an outage, the dev stack's restart delay) must stop at once when asked, not at the
 * end of their pause.
 */
export class WakeableSleep {
  private wakeCurrent?: () => void;

  /** Resolves after `ms`, or as soon as {@link wake} is called. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeCurrent = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeCurrent = done;
    });
  }

  /** Ends the current sleep now (nothing happens when none is under way). */
  wake(): void {
    this.wakeCurrent?.();
  }
}
