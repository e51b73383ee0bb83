import pino from 'pino';
import { PeriodicJob } from './periodic-job';

const silent = pino({ level: 'silent' });
/** Far longer than any test waits: a tick that runs did not wait for the period. */
const LONG_PERIOD_MS = 60_000;

/** Resolves once `probe` holds, checking on each turn of the event loop. */
async function until(probe: () => boolean): Promise<void> {
  while (!probe()) await new Promise((resolve) => setImmediate(resolve));
}

describe('PeriodicJob', () => {
  it('runs at start, then again at once while ticks report a full batch', async () => {
    let ticks = 0;
    const job = new PeriodicJob('drain', LONG_PERIOD_MS, async () => ({ full: ++ticks < 3 }), silent);
    job.start();
    await until(() => ticks === 3);
    await job.stop();
    expect(ticks).toBe(3);
  });

  it('runs the next tick now when poked while idle', async () => {
    let ticks = 0;
    const job = new PeriodicJob('relay', LONG_PERIOD_MS, async () => ({ full: (++ticks, false) }), silent);
    job.start();
    await until(() => ticks === 1);
    job.poke();
    await until(() => ticks === 2);
    await job.stop();
    expect(ticks).toBe(2);
  });

  it('runs once more right after a tick that was poked while it ran', async () => {
    let ticks = 0;
    let release!: () => void;
    const job = new PeriodicJob(
      'relay',
      LONG_PERIOD_MS,
      async () => {
        ticks += 1;
        if (ticks === 1) await new Promise<void>((resolve) => (release = resolve));
        return { full: false };
      },
      silent,
    );
    job.start();
    await until(() => release !== undefined);
    job.poke();
    release();
    await until(() => ticks === 2);
    await job.stop();
    expect(ticks).toBe(2);
  });

  it('survives a failing tick and stops without waiting for the period', async () => {
    let ticks = 0;
    const job = new PeriodicJob(
      'flaky',
      LONG_PERIOD_MS,
      async () => {
        ticks += 1;
        if (ticks === 1) throw new Error('database away');
        return { full: false };
      },
      silent,
    );
    job.start();
    await until(() => ticks === 1);
    job.poke();
    await until(() => ticks === 2);
    await job.stop();
  });
});
