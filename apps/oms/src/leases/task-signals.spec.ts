import type { NatsBus } from '@hms/platform';
import type { Logger } from 'pino';
import { LeaseWaiter, TaskSignals, wakeWaiters } from './task-signals';

const waiter = (tags: string[] | null, max = 1) => new LeaseWaiter('p', tags ? new Set(tags) : null, max);
const woken = (waiters: LeaseWaiter[]) => waiters.map((w) => w.isSignalled);

describe(wakeWaiters.name, () => {
  it('wakes only the longest-waiting caller for one task', () => {
    const line = [waiter(null), waiter(null), waiter(null)];
    wakeWaiters(line, [[]]);
    expect(woken(line)).toEqual([true, false, false]);
  });

  it('wakes one caller per task, in arrival order', () => {
    const line = [waiter(null), waiter(null), waiter(null)];
    wakeWaiters(line, [[], []]);
    expect(woken(line)).toEqual([true, true, false]);
  });

  it('gives a caller as many tasks as its max before moving on', () => {
    const line = [waiter(null, 2), waiter(null)];
    wakeWaiters(line, [[], []]);
    expect(woken(line)).toEqual([true, false]);
    wakeWaiters(line, [[]]);
    expect(woken(line)).toEqual([true, true]);
  });

  it('skips callers whose tags do not cover the task', () => {
    const line = [waiter(['fr']), waiter(['es', 'ocr']), waiter(null)];
    wakeWaiters(line, [['es']]);
    expect(woken(line)).toEqual([false, true, false]);
    wakeWaiters(line, [['de']]);
    expect(woken(line)).toEqual([false, true, true]);
  });

  it('offers an untagged task to a tagged caller', () => {
    const line = [waiter(['fr'])];
    wakeWaiters(line, [[]]);
    expect(woken(line)).toEqual([true]);
  });

  it('wakes everyone when the tasks were too many to list', () => {
    const line = [waiter(['fr']), waiter(null)];
    wakeWaiters(line, null);
    expect(woken(line)).toEqual([true, true]);
  });

  it('starts counting again after a rearm', () => {
    const line = [waiter(null), waiter(null)];
    wakeWaiters(line, [[]]);
    line[0]!.rearm();
    wakeWaiters(line, [[]]);
    expect(woken(line)).toEqual([true, false]);
  });
});

describe(LeaseWaiter.name, () => {
  it('returns from wait at once when woken before waiting', async () => {
    const w = waiter(null);
    w.wake();
    const started = Date.now();
    await w.wait(5_000);
    expect(Date.now() - started).toBeLessThan(50);
  });

  it('returns from wait when woken while waiting, or after the timeout', async () => {
    const w = waiter(null);
    let started = Date.now();
    setTimeout(() => w.wake(), 30);
    await w.wait(5_000);
    expect(Date.now() - started).toBeLessThan(1_000);
    w.rearm();
    started = Date.now();
    await w.wait(60);
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
  });
});

describe(TaskSignals.name, () => {
  // join/leave work in memory only; the bus is not touched.
  const signals = () => new TaskSignals({} as NatsBus, {} as Logger);

  it('passes the wake-ups a leaving waiter did not use to the next in line', () => {
    const hub = signals();
    const first = hub.join('p', undefined, 1);
    const second = hub.join('p', ['es'], 1);
    const third = hub.join('p', undefined, 1);
    // `first` was woken while it was already looking, and returns with what that look found.
    wakeWaiters([first, second, third], [['es']]);
    expect(woken([first, second, third])).toEqual([true, false, false]);
    hub.leave(first);
    expect(woken([second, third])).toEqual([true, false]);
    expect(hub.waitingIn('p')).toBe(2);
  });

  it('passes nothing on for a waiter that used its wake-ups', () => {
    const hub = signals();
    const first = hub.join('p', undefined, 1);
    const second = hub.join('p', undefined, 1);
    wakeWaiters([first, second], [[]]);
    first.rearm(); // it looked after the wake-up
    hub.leave(first);
    expect(second.isSignalled).toBe(false);
  });

  it('wakes every waiter and refuses to wait once closing', async () => {
    const hub = signals();
    const a = hub.join('p', undefined, 1);
    const b = hub.join('q', ['x'], 1);
    hub.close();
    expect(woken([a, b])).toEqual([true, true]);
    expect(hub.isClosing).toBe(true);
    expect(hub.join('p', undefined, 1).isSignalled).toBe(true);
  });

  it("wakes its own waiters at once, and only other replicas' waiters through NATS", () => {
    // A stand-in for the connection: records what is published and lets the test deliver it.
    const published: Array<{ subject: string; data: string }> = [];
    const deliverTo: Array<(error: Error | null, message: { json: () => unknown }) => void> = [];
    const bus = {
      subject: (s: string) => s,
      connection: {
        publish: (subject: string, data: string) => published.push({ subject, data }),
        subscribe: (_subject: string, options: { callback: (typeof deliverTo)[number] }) => {
          deliverTo.push(options.callback);
          return { unsubscribe: () => undefined };
        },
      },
    } as unknown as NatsBus;
    const logger = { warn: () => undefined } as unknown as Logger;
    const here = new TaskSignals(bus, logger);
    const there = new TaskSignals(bus, logger);
    here.onApplicationBootstrap();
    there.onApplicationBootstrap();
    const [mine, mineToo] = [here.join('p', undefined, 1), here.join('p', undefined, 1)];
    const theirs = there.join('p', undefined, 1);

    here.announce('p', [[]]);
    expect(woken([mine, mineToo, theirs])).toEqual([true, false, false]);
    expect(published).toHaveLength(1);
    // NATS brings the signal to every subscriber, its sender included: the sender ignores its copy.
    for (const deliver of deliverTo) deliver(null, { json: () => JSON.parse(published[0]!.data) });
    expect(woken([mine, mineToo, theirs])).toEqual([true, false, true]);
  });
});
