import { randomUUID } from 'node:crypto';
import { ItemSteps } from '@hms/contracts';
import { eventually, OmsHarness } from '../testing/oms-harness';

jest.setTimeout(60_000);

/**
 * Fan-out items in OMS: ACT names each item's task `<step>[<index>]`, so OMS needs nothing new to
 * keep one task per item: the unique (request, step) key, leases, retries, reroute, SLA and a
 * request's cancel all act on each item as the task it is.
 */
describe('OMS and fan-out items', () => {
  let oms: OmsHarness;

  beforeAll(async () => {
    oms = await OmsHarness.start('oms_fan_out_items');
  });

  afterAll(async () => {
    await oms?.close();
  });

  it('queues one task per item, retries, reroutes and cancels each on its own', async () => {
    const pool = `items-${randomUUID().slice(0, 8)}`;
    const requestId = randomUUID();
    const ready = (index: number) =>
      oms.stepReady({ pool, stepId: ItemSteps.stepIdOf('score', index), title: `Score [${index}]`, slaMinutes: 30, retry: { attempts: 2 }, input: { item: `f${index}`, index } }, requestId);
    for (const index of [0, 1, 2, 3]) await ready(index);
    await ready(1); // a redelivered ready of one item queues nothing twice
    // A marker published after it: once the marker is queued, the consumer has handled the
    // redelivered ready too (one stream, handled in order).
    const marker = await oms.stepReady({ pool: `${pool}-marker`, stepId: 'marker' });
    await eventually(async () => ((await oms.call('oms.task.list', { requestId: marker.requestId })).items.length === 1 ? true : undefined));
    const tasks = (await oms.call('oms.task.list', { requestId })).items;
    expect(tasks).toHaveLength(4);
    expect(tasks.map((task) => task.stepId).sort()).toEqual(['score[0]', 'score[1]', 'score[2]', 'score[3]']);
    expect(tasks.every((task) => task.slaDueAt !== null && task.maxAttempts === 2)).toBe(true);

    const { tasks: leased } = await oms.call('oms.task.lease', { pool, worker: 'bot-1', max: 10 });
    expect(leased).toHaveLength(4);
    const byStep = new Map(leased.map((task) => [task.stepId, task]));
    expect(byStep.get('score[2]')!.input).toEqual({ item: 'f2', index: 2 });
    // One item fails and is retried alone; another completes; another is moved to another pool.
    await oms.call('oms.task.fail', { taskId: byStep.get('score[0]')!.id, leaseToken: byStep.get('score[0]')!.leaseToken, error: { message: 'busy' } });
    await oms.call('oms.task.complete', { taskId: byStep.get('score[1]')!.id, leaseToken: byStep.get('score[1]')!.leaseToken, output: { score: 1 } });
    const rerouted = await oms.call('oms.task.reroute', { taskId: byStep.get('score[3]')!.id, pool: `${pool}-overflow` });
    expect(rerouted).toMatchObject({ stepId: 'score[3]', pool: `${pool}-overflow`, status: 'queued' });
    expect(await oms.call('oms.task.get', { id: byStep.get('score[0]')!.id })).toMatchObject({ status: 'queued', attempt: 1 });

    await oms.publishActEvent('act.request.cancelled', requestId, { plan: 'rescore', reason: 'wrong batch' });
    const settled = await eventually(async () => {
      const { items } = await oms.call('oms.task.list', { requestId });
      return items.every((task) => task.status === 'completed' || task.status === 'cancelled') ? items : undefined;
    });
    expect(Object.fromEntries(settled.map((task) => [task.stepId, task.status]))).toEqual({
      'score[0]': 'cancelled',
      'score[1]': 'completed',
      'score[2]': 'cancelled',
      'score[3]': 'cancelled',
    });
    // The leased item's lease was revoked with it.
    const revoked = await oms.waitForEvent('oms.task.cancelled', (event) => event.data.stepId === 'score[2]' && event.requestId === requestId);
    expect(revoked.data.leaseId).not.toBeNull();
  });
});
