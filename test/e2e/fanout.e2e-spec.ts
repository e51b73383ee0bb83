import { HmsApiError, HmsClient } from '@hms/client';
import { ItemSteps, type LeasedTask, type LedgerEntryView, type TaskView } from '@hms/contracts';
import { freePort, ServiceProcess } from '@hms/testing';
import { ledgerThrough, startE2eStack, waitUntil } from './support/e2e-stack';

// A thousand items leased and completed a hundred at a time, through the gateway, twice over.
jest.setTimeout(180_000);

/**
 * Fan-out through the gateway with the SDK, with two OMS replicas: bots lease up to 100 item
 * tasks at a time and complete them in one call, some items fail once and are retried, some die;
 * the step after the fan-out sees the outputs in order. A dead item under each policy, a cancel
 * in the middle, and the registration errors of a bad forEach.
 */
describe('Fan-out (forEach) end to end', () => {
  let env: Awaited<ReturnType<typeof startE2eStack>>;
  let secondOms: ServiceProcess | undefined;
  let bots: HmsClient;

  beforeAll(async () => {
    env = await startE2eStack('e2e_fanout');
    secondOms = new ServiceProcess('oms', await freePort(), env.serviceEnv('oms'));
    await secondOms.start();
    bots = new HmsClient({ baseUrl: env.stack.gatewayUrl, token: env.stack.serviceToken });
    await env.manager.plans.register(`
id: nightly_rescore_e2e
steps:
  - id: score
    pool: rescore_bots
    forEach: "lists.range(payload.count)"
    onItemFailure: continue
    retry: { attempts: 2, backoffSeconds: 0 }
    input:
      file: '"file-" + string(item)'
  - id: report
    pool: rescore_clerks
    input:
      total: steps.score.output.size()
      failed: steps.score.failed
      first: steps.score.output[0]
`);
    await env.manager.plans.register({ id: 'cancel_e2e', steps: [{ id: 'score', pool: 'cancel_bots', forEach: 'lists.range(payload.count)' }] });
    await env.manager.plans.register({
      id: 'strict_e2e',
      steps: [
        { id: 'files', pool: 'strict_bots', forEach: 'payload.files', retry: { attempts: 3 } },
        { id: 'join', pool: 'strict_clerks' },
      ],
    });
  });

  afterAll(async () => {
    await secondOms?.stop();
    await env?.dispose();
  });

  /** The request's tasks as OMS has them (the manager's list, by request). */
  const tasksOf = async (requestId: string): Promise<TaskView[]> => {
    const tasks: TaskView[] = [];
    for await (const task of env.manager.tasks.listAll({ requestId, limit: 500 })) tasks.push(task);
    return tasks;
  };

  /** A call retried while a service or its database is briefly unavailable (503), as a real bot does. */
  const retrying = async <T>(call: () => Promise<T>): Promise<T> => {
    for (;;) {
      try {
        return await call();
      } catch (error) {
        if ((error as { code?: string }).code !== 'UNAVAILABLE') throw error;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  };

  const indexOf = (task: LeasedTask) => {
    const item = ItemSteps.parse(task.stepId);
    expect(item).not.toBeNull();
    expect(task.input.index).toBe(item!.index);
    return item!.index;
  };

  it('runs 1,000 items leased 100 at a time with retries and two dead items, and the join sees the ordered list', async () => {
    const count = 1000;
    const request = await env.manager.requests.create({ plan: 'nightly_rescore_e2e', payload: { count } });
    const failsOnce = (index: number) => index % 100 === 13;
    const dies = (index: number) => index === 500 || index === 501;
    let ended = 0;
    // Two bots, each leasing up to 100 item tasks and ending them in one call per kind.
    const bot = async (worker: string) => {
      while (ended < count) {
        const { tasks } = await retrying(() => bots.tasks.lease('rescore_bots', { worker, max: 100, waitSeconds: 1 }));
        const completions: Array<{ taskId: string; leaseToken: string; output: Record<string, unknown> }> = [];
        for (const task of tasks) {
          const index = indexOf(task);
          expect(task.input).toEqual({ item: index, index, file: `file-${index}` });
          if (dies(index)) {
            await retrying(() => bots.tasks.fail(task.id, task.leaseToken, { message: `file ${index} is corrupt` }, false));
            ended += 1;
          } else if (failsOnce(index) && task.attempt === 1) {
            await retrying(() => bots.tasks.fail(task.id, task.leaseToken, { message: 'scanner busy' }));
          } else completions.push({ taskId: task.id, leaseToken: task.leaseToken, output: { score: index * 2 } });
        }
        if (completions.length === 0) continue;
        const { results } = await retrying(() => bots.tasks.completeMany(completions));
        expect(results.every((result) => 'status' in result && result.status === 'completed')).toBe(true);
        ended += completions.length;
      }
    };
    await Promise.all([bot('bot-a'), bot('bot-b')]);

    const report = await waitUntil(async () => (await retrying(() => bots.tasks.lease('rescore_clerks', { worker: 'clerk', waitSeconds: 1 }))).tasks[0], 60_000);
    expect(report.input).toEqual({ total: count, failed: [500, 501], first: { score: 0 } });
    await bots.tasks.complete(report.id, report.leaseToken, { signed: true });
    const finished = await waitUntil(async () => {
      const view = await env.manager.requests.get(request.id);
      return view.status === 'completed' && view;
    }, 60_000);
    expect(finished.result).toEqual({ report: { signed: true } });
    const score = finished.steps.find((step) => step.stepId === 'score')!;
    expect(score).toMatchObject({ status: 'done', items: { total: count, completed: count - 2, failed: 2 } });
    const outputs = score.output as Array<{ score: number } | null>;
    expect(outputs).toHaveLength(count);
    expect(outputs.every((output, index) => (dies(index) ? output === null : output?.score === index * 2))).toBe(true);

    // Each item is its own task: one per item, retried on its own; every item's events in the ledger.
    const tasks = (await tasksOf(request.id)).filter((task) => ItemSteps.parse(task.stepId));
    expect(tasks).toHaveLength(count);
    expect(tasks.filter((task) => task.status === 'dead').map((task) => task.stepId).sort()).toEqual(['score[500]', 'score[501]']);
    expect(tasks.filter((task) => failsOnce(ItemSteps.parse(task.stepId)!.index)).every((task) => task.status === 'completed' && task.attempt === 2)).toBe(true);
    const history: LedgerEntryView[] = await ledgerThrough(env.manager, request.id, 'act.request.completed', 20_000);
    const ofItems = (type: string) => history.filter((entry) => entry.type === type && ItemSteps.parse(String(entry.data.stepId))).length;
    expect(ofItems('act.step.ready')).toBe(count);
    expect(ofItems('oms.task.queued')).toBe(count);
    expect(ofItems('oms.task.completed')).toBe(count - 2);
    expect(ofItems('oms.task.dead')).toBe(2);
    expect(ofItems('oms.task.failed')).toBe(count / 100 + 2);
    expect(history.find((entry) => entry.type === 'act.step.fanned-out')?.data).toEqual({ stepId: 'score', items: count });
    expect((await env.manager.requests.verify(request.id)).valid).toBe(true);
  });

  it('fails the request on the first dead item under onItemFailure: fail, and cancels the other items', async () => {
    const files = Array.from({ length: 20 }, (_, i) => `f${i}`);
    const request = await env.manager.requests.create({ plan: 'strict_e2e', payload: { files } });
    const leased: LeasedTask[] = [];
    await waitUntil(async () => {
      leased.push(...(await retrying(() => bots.tasks.lease('strict_bots', { worker: 'strict-bot', max: 20, waitSeconds: 1 }))).tasks);
      return leased.length === files.length;
    }, 60_000);
    const third = leased.find((task) => task.stepId === 'files[3]')!;
    expect(third.input).toMatchObject({ item: 'f3', index: 3, payload: { files } });
    await bots.tasks.fail(third.id, third.leaseToken, { message: 'unreadable' }, false);
    const failed = await waitUntil(async () => {
      const view = await env.manager.requests.get(request.id);
      return view.status === 'failed' && view;
    }, 60_000);
    expect(failed.details).toMatchObject({ stepId: 'files', reason: "step 'files' failed: the task of item 3 is dead after 1 attempt: unreadable" });
    const tasks = await waitUntil(async () => {
      const all = await tasksOf(request.id);
      return all.every((task) => task.status === 'dead' || task.status === 'cancelled') && all;
    }, 60_000);
    expect(tasks.filter((task) => task.status === 'cancelled')).toHaveLength(files.length - 1);
    // A bot still holding a cancelled item's lease finds it gone.
    const other = leased.find((task) => task.stepId === 'files[4]')!;
    expect(await bots.tasks.complete(other.id, other.leaseToken, {}).catch((e: unknown) => e)).toMatchObject({ status: 409 });
  });

  it('cancels a fan-out in the middle: the items not yet done are cancelled, the done ones stay', async () => {
    const count = 1200;
    const request = await env.manager.requests.create({ plan: 'cancel_e2e', payload: { count } });
    // Every item queued first, so the cancel finds them all in OMS.
    await waitUntil(async () => (await env.manager.pools.peek('cancel_bots', 1)).depth === count, 60_000);
    const { tasks } = await bots.tasks.lease('cancel_bots', { worker: 'bot-c', max: 100 });
    const { results } = await bots.tasks.completeMany(tasks.map((task) => ({ taskId: task.id, leaseToken: task.leaseToken, output: { score: 1 } })));
    expect(results.filter((result) => 'status' in result && result.status === 'completed')).toHaveLength(100);
    const more = (await bots.tasks.lease('cancel_bots', { worker: 'bot-c', max: 10 })).tasks;
    // ACT has counted the hundred before the cancel, so the step shows them.
    await waitUntil(async () => (await env.manager.requests.get(request.id)).steps[0]!.items?.completed === 100, 60_000);
    await env.manager.requests.cancel(request.id, 'wrong input files');
    const settled = await waitUntil(async () => {
      const all = await tasksOf(request.id);
      return all.every((task) => task.status === 'completed' || task.status === 'cancelled') && all;
    }, 60_000);
    expect(settled).toHaveLength(count);
    expect(settled.filter((task) => task.status === 'completed')).toHaveLength(100);
    expect(await bots.tasks.complete(more[0]!.id, more[0]!.leaseToken, {}).catch((e: unknown) => e)).toMatchObject({ status: 409 });
    expect((await env.manager.pools.peek('cancel_bots', 1)).depth).toBe(0);
    const view = await env.manager.requests.get(request.id);
    expect(view.status).toBe('cancelled');
    expect(view.steps.find((step) => step.stepId === 'score')).toMatchObject({ status: 'cancelled', items: { total: count, completed: 100, failed: 0 } });
  });

  it('refuses a plan with a bad forEach, naming steps[i].forEach', async () => {
    const error = await env.manager.plans
      .register({
        id: 'bad_fan_out',
        steps: [
          { id: 'a', pool: 'bots', forEach: 'steps.b.output' },
          { id: 'b', pool: 'bots', forEach: 'lists.range(200000)' },
          { id: 'c', pool: 'bots', forEach: 'payload.files[', onItemFailure: 'ignore' as 'fail' },
          { id: 'd', pool: 'bots', onItemFailure: 'continue' },
        ],
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HmsApiError);
    expect(error).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
    expect((error as HmsApiError).details).toEqual(
      expect.arrayContaining([
        { path: 'steps[0].forEach', message: "refers to step 'b', which does not run before this step (add it to after)" },
        { path: 'steps[1].forEach', message: 'makes a list of 200000 items; a fan-out has at most 100000' },
        { path: 'steps[2].forEach', message: expect.stringMatching(/^is not a valid CEL expression/) },
        { path: 'steps[2].onItemFailure', message: 'must be one of fail, continue' },
        { path: 'steps[3].onItemFailure', message: 'applies only to a step with forEach' },
      ]),
    );
    expect((error as HmsApiError).details).toHaveLength(5);
  });
});
