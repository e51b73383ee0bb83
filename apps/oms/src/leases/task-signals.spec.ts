import type { NatsBus } from '@hms/platform';
import type { Logger } from 'pino';
import { LeaseWaiter, TaskSignals, wakeWaiters, type WaiterLeaseTerms } from './task-signals';

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
  const terms = (worker: string): WaiterLeaseTerms => ({ worker, leaseSeconds: null, actor: 'svc', traceHeaders: null });
  const leased = (id: string) => ({ id, requestId: 'r', stepId: 's', title: 't', pool: 'p', tags: [], payload: {}, input: {}, attempt: 1, leaseToken: 'tok', leaseExpiresAt: new Date(0).toISOString(), leaseSeconds: 60 });
  /** Parks a waiter in wait(); resolves with how its wait ended. */
  const park = (w: LeaseWaiter, ms: number) => w.wait(ms).then(() => (w.handedOver ? 'handed' : w.isSignalled ? 'signalled' : 'timeout'));

  it('reserves the parked waiter first in line for the task, and no one when that waiter is looking', async () => {
    const hub = signals();
    const fr = hub.join('p', ['fr'], 1, terms('fr'));
    const any = hub.join('p', undefined, 1, terms('any'));
    const later = hub.join('p', undefined, 1, terms('later'));
    // Nobody parked yet: each is still on its first look.
    expect(hub.reserveParked('p', ['es'])).toBeNull();
    void park(any, 5_000);
    void park(later, 5_000);
    expect(hub.reserveParked('p', ['es'])).toBe(any);
    // `any` is promised a task (its max is 1): the next one goes to `later`, never twice to `any`.
    expect(hub.reserveParked('p', ['es'])).toBe(later);
    expect(hub.reserveParked('p', ['es'])).toBeNull();
    expect(hub.reserveParked('elsewhere', [])).toBeNull();
    any.cancelReservation();
    // `fr` is first in line for an untagged task but is looking: no hand-off past it.
    expect(hub.reserveParked('p', [])).toBeNull();
    expect(fr.isParked).toBe(false);
    later.cancelReservation();
  });

  it('never reserves a waiter without lease terms, or once closing', async () => {
    const hub = signals();
    void park(hub.join('p', undefined, 1), 5_000);
    expect(hub.reserveParked('p', [])).toBeNull();
    hub.close();
    const other = signals();
    void park(other.join('p', undefined, 1, terms('w')), 5_000);
    other.close();
    expect(other.reserveParked('p', [])).toBeNull();
  });

  it('keeps a reserved waiter waiting through its timeout, wake-ups and close, until the hand-off settles', async () => {
    const hub = signals();
    const w = hub.join('p', undefined, 1, terms('w'));
    const ended = park(w, 20);
    expect(hub.reserveParked('p', [])).toBe(w);
    let settled = false;
    void ended.then(() => (settled = true));
    w.wake([]);
    hub.close();
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(settled).toBe(false);
    w.handOver([leased('t1')]);
    expect(await ended).toBe('handed');
    expect(w.handedOver?.map((t) => t.id)).toEqual(['t1']);
  });

  it('sends a waiter whose reservation is cancelled to look for itself', async () => {
    const hub = signals();
    const w = hub.join('p', undefined, 1, terms('w'));
    const ended = park(w, 5_000);
    expect(hub.reserveParked('p', [])).toBe(w);
    w.cancelReservation();
    expect(await ended).toBe('signalled');
    expect(w.handedOver).toBeNull();
  });

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
