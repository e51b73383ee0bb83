import { Writable } from 'node:stream';
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

  it('logs a Postgres outage once when it starts and once when it ends, not once per tick', async () => {
    const messages: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        messages.push((JSON.parse(chunk.toString()) as { msg: string }).msg);
        done();
      },
    });
    let ticks = 0;
    const job = new PeriodicJob(
      'sweep',
      LONG_PERIOD_MS,
      async () => {
        ticks += 1;
        if (ticks <= 5) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
        return { full: ticks < 7 };
      },
      pino({ level: 'info' }, sink),
    );
    job.start();
    for (let tick = 2; tick <= 6; tick += 1) {
      await until(() => ticks === tick - 1);
      job.poke();
    }
    await until(() => ticks === 7);
    await job.stop();
    await new Promise((resolve) => setImmediate(resolve));
    expect(messages).toEqual(['Postgres is unavailable; retrying until it is back', 'Postgres is back; resumed']);
  });
});
