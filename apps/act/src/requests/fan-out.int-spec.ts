import { randomUUID } from 'node:crypto';
import { FixedLimits, ItemSteps, limits, type HmsEvent, type RequestStatus } from '@hms/contracts';
import { eventually, requestInStatus, startAct, type ActHarness, type EventCollector } from '../testing/act-harness';
import { FAN_OUT_CHUNK, FanOutJob } from './fan-out.job';

// Booting the service and waiting for consumers takes seconds on a busy CI machine.
jest.setTimeout(60_000);

/**
 * Fan-out in ACT alone, OMS played by the test: ACT's emitter is driven by the test (its period
 * is off), so each chunk, and a cancel between two chunks, happen exactly where the test says.
 */
describe('ACT fan-out (forEach)', () => {
  let act: ActHarness;
  let emitter: FanOutJob;

  beforeAll(async () => {
    act = await startAct('act_fan_out', { ACT_FAN_OUT_TICK_MS: '0' });
    emitter = act.app.get(FanOutJob);
    const register = (definition: Record<string, unknown>) => act.call('act.plan.register', { definition });
    await register({
      id: 'rescore',
      steps: [
        { id: 'score', pool: 'bots', forEach: 'lists.range(payload.count)', input: { file: '"file-" + string(item)', doubled: 'item * 2.0' }, retry: { attempts: 3 }, onItemFailure: 'continue' },
        { id: 'report', pool: 'clerks', input: { total: 'steps.score.output.size()', failed: 'steps.score.failed', third: 'steps.score.output[3]' } },
      ],
    });
    await register({ id: 'bad_input', steps: [{ id: 'score', pool: 'bots', forEach: 'lists.range(3)', input: { doubled: 'item * 2' } }] });
    await register({
      id: 'strict',
      steps: [
        { id: 'files', pool: 'bots', forEach: 'payload.files' },
        { id: 'join', pool: 'clerks' },
      ],
    });
  });

  afterAll(async () => {
    await act?.close();
  });

  const create = async (plan: string, payload: Record<string, unknown>) => (await act.call('act.request.create', { plan, payload })).request;
  const waitForStatus = (id: string, status: RequestStatus) => requestInStatus(act, id, status);

  /** Waits until the consumer stored the fan-out, then runs the emitter until it has nothing left. */
  const emitAll = async (requestId: string) => {
    await eventually(async () => {
      const [row] = await act.sql(`SELECT 1 FROM act.fan_outs WHERE request_id = $1`, [requestId]);
      if (!row) throw new Error('fan-out not stored yet');
    });
    let chunks = 0;
    while ((await emitter.tick()) > 0) chunks++;
    return chunks;
  };

  const itemsOf = async (collector: EventCollector<'act.step.ready'>, requestId: string, count: number) =>
    eventually(() => {
      const mine = collector.events.filter((event) => event.requestId === requestId && ItemSteps.parse(event.data.stepId));
      if (mine.length < count) throw new Error(`${mine.length} of ${count} items emitted`);
      return mine;
    }, 20_000);

  const complete = (requestId: string, stepId: string, output: Record<string, unknown>) =>
    act.publish('oms.task.completed', requestId, { taskId: randomUUID(), stepId, pool: 'bots', worker: 'bot-1', leaseId: randomUUID(), attempt: 1, output });
  const dead = (requestId: string, stepId: string) =>
    act.publish('oms.task.dead', requestId, { taskId: randomUUID(), stepId, pool: 'bots', attempts: 3, error: { message: 'file unreadable' } }, { actor: 'system:oms' });

  it('emits one act.step.ready per item in chunks, and the join sees the outputs in order with the dead item reported', async () => {
    const count = 2 * FAN_OUT_CHUNK + 100;
    const ready = act.collect('act.step.ready');
    const fannedOut = act.collect('act.step.fanned-out');
    const request = await create('rescore', { count });
    expect((await fannedOut.waitFor((event) => event.requestId === request.id)).data).toEqual({ stepId: 'score', items: count });
    expect(await emitAll(request.id)).toBe(3);
    const items = await itemsOf(ready, request.id, count);
    expect(items).toHaveLength(count);
    expect(new Set(items.map((event) => event.data.stepId)).size).toBe(count);
    const fifth = items.find((event) => event.data.stepId === 'score[5]')!;
    expect(fifth.data).toMatchObject({ pool: 'bots', title: 'score [5]', retry: { attempts: 3 }, input: { item: 5, index: 5, file: 'file-5', doubled: 10 } });

    // The items end in any order, a few per event message, one of them dead.
    const publishes: Array<Promise<unknown>> = [];
    for (let index = count - 1; index >= 0; index--) {
      publishes.push(index === 7 ? dead(request.id, 'score[7]') : complete(request.id, ItemSteps.stepIdOf('score', index), { score: index }));
      if (publishes.length >= 200) await Promise.all(publishes.splice(0));
    }
    await Promise.all(publishes);
    const report = await eventually(() => {
      const event = ready.events.find((e) => e.requestId === request.id && e.data.stepId === 'report');
      if (!event) throw new Error('report not ready');
      return event;
    }, 30_000);
    expect(report.data.input).toEqual({ total: count, failed: [7], third: { score: 3 } });

    const view = await act.call('act.request.get', { id: request.id });
    const score = view.steps.find((step) => step.stepId === 'score')!;
    expect(score).toMatchObject({ status: 'done', items: { total: count, completed: count - 1, failed: 1 } });
    const outputs = score.output as Array<{ score: number } | null>;
    expect(outputs).toHaveLength(count);
    expect(outputs[7]).toBeNull();
    expect(outputs.every((output, index) => index === 7 || output?.score === index)).toBe(true);

    await complete(request.id, 'report', { ok: true });
    expect((await waitForStatus(request.id, 'completed')).result).toEqual({ report: { ok: true } });
    // Every item's events are in the request's ledger: its act.step.ready and its end.
    const [ledger] = await act.sql<{ ready: number; ends: number }>(
      `SELECT count(*) FILTER (WHERE type = 'act.step.ready' AND data->>'stepId' LIKE 'score[%')::int AS ready,
              count(*) FILTER (WHERE type IN ('oms.task.completed', 'oms.task.dead') AND data->>'stepId' LIKE 'score[%')::int AS ends
         FROM act.ledger_entries WHERE request_id = $1`,
      [request.id],
    );
    expect(ledger).toEqual({ ready: count, ends: count });
  });

  it('fails the step and the request on the first dead item under onItemFailure: fail, and ignores later ends', async () => {
    const failedEvents = act.collect('act.request.failed');
    const request = await create('strict', { files: ['a', 'b', 'c'] });
    await emitAll(request.id);
    await complete(request.id, 'files[0]', { ok: true });
    await dead(request.id, 'files[2]');
    const failed = await failedEvents.waitFor((event) => event.requestId === request.id);
    expect(failed.data).toMatchObject({ stepId: 'files', reason: "step 'files' failed: the task of item 2 is dead after 3 attempts: file unreadable" });
    await complete(request.id, 'files[1]', { ok: true });
    const view = await waitForStatus(request.id, 'failed');
    expect(view.steps.map((step) => [step.stepId, step.status])).toEqual([
      ['files', 'failed'],
      ['join', 'cancelled'],
    ]);
    expect(view.details.reason).toMatch(/item 2 is dead/);
  });

  it('emits nothing more once the request is cancelled between two chunks', async () => {
    const ready = act.collect('act.step.ready');
    const request = await create('rescore', { count: 2 * FAN_OUT_CHUNK });
    await eventually(async () => {
      const [row] = await act.sql(`SELECT 1 FROM act.fan_outs WHERE request_id = $1`, [request.id]);
      if (!row) throw new Error('fan-out not stored yet');
    });
    expect(await emitter.tick()).toBe(FAN_OUT_CHUNK);
    await act.call('act.request.cancel', { id: request.id, reason: 'wrong batch' });
    expect(await emitter.tick()).toBe(0);
    const [row] = await act.sql<{ emitted: number; emitting: boolean }>(`SELECT emitted, emitting FROM act.fan_outs WHERE request_id = $1`, [request.id]);
    expect(row).toEqual({ emitted: FAN_OUT_CHUNK, emitting: false });
    await itemsOf(ready, request.id, FAN_OUT_CHUNK);
    expect(ready.events.filter((event) => event.requestId === request.id)).toHaveLength(FAN_OUT_CHUNK);
  });

  it('fails a request whose list is wider than the fan-out limit, with the reason', async () => {
    const request = await create('rescore', { count: FixedLimits.fanOutItems + 1 });
    const view = await waitForStatus(request.id, 'failed');
    expect(view.details).toMatchObject({ stepId: 'score', reason: expect.stringMatching(/^the forEach of step 'score' could not be evaluated: lists\.range\(100001\) is wider than a fan-out may be/) });
  });

  it('fails a request whose forEach is not a list', async () => {
    const request = await create('strict', { files: 'a' });
    expect((await waitForStatus(request.id, 'failed')).details.reason).toBe("the forEach of step 'files' did not give a list");
  });

  it("fails the step and the request when an item's input cannot be made, and emits none of its chunk", async () => {
    const ready = act.collect('act.step.ready');
    const request = await create('bad_input', {});
    await emitAll(request.id);
    const view = await waitForStatus(request.id, 'failed');
    // JSON numbers are CEL doubles, and CEL does not multiply a double by an int.
    expect(view.details.reason).toBe("the input of item 0 of step 'score' 'doubled' could not be evaluated: found no matching overload for '_*_' applied to '(double, int)'");
    expect(ready.events.filter((event) => event.requestId === request.id)).toEqual([]);
  });

  it('completes an empty fan-out at once and starts the step after it', async () => {
    const ready = act.collect('act.step.ready');
    const request = await create('strict', { files: [] });
    const join = await ready.waitFor((event: HmsEvent<'act.step.ready'>) => event.requestId === request.id && event.data.stepId === 'join');
    expect(join.data.input).toEqual({ payload: { files: [] }, steps: { files: { output: [], failed: [] } } });
  });

  it('gives the steps after it a summary instead of a list over the payload limit', async () => {
    const ready = act.collect('act.step.ready');
    const request = await create('strict', { files: ['a', 'b', 'c'] });
    await emitAll(request.id);
    const big = 'x'.repeat(Math.ceil(limits().payloadBytes / 2));
    for (const index of [0, 1, 2]) await complete(request.id, `files[${index}]`, { text: big });
    const join = await eventually(() => {
      const event = ready.events.find((e) => e.requestId === request.id && e.data.stepId === 'join');
      if (!event) throw new Error('join not ready');
      return event;
    }, 20_000);
    expect(join.data.input).toMatchObject({
      steps: { files: { output: { items: 3, completed: 3, failed: 0, outputsOmitted: expect.stringMatching(/^the 3 items' outputs take \d+ bytes, over the payload limit of 262144/) }, failed: [] } },
    });
  });
});
