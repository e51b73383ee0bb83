import { randomUUID } from 'node:crypto';
import { CEL_LIMITS, type LedgerEntryView, type RequestStatus } from '@hms/contracts';
import { eventually, requestInStatus, rpcError, startAct, type ActHarness } from '../testing/act-harness';

// Booting the service and waiting for consumers takes seconds on a busy CI machine.
jest.setTimeout(30_000);

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * A plan's CEL is held to its limits at registration, and a request whose `when` exceeds the cost
 * budget at run time fails its step with the reason in the ledger while ACT keeps serving others.
 */
describe('ACT CEL budget', () => {
  let act: ActHarness;

  beforeAll(async () => {
    act = await startAct('act_cel_budget');
    await act.call('act.plan.register', {
      definition: {
        id: 'cel_bomb',
        steps: [
          { id: 'gather', pool: 'clerks', after: [] },
          // Two nested macros pass registration; their work is the square of the list.
          { id: 'decide', pool: 'managers', after: ['gather'], when: 'payload.items.all(x, payload.items.exists(y, y == x))' },
        ],
      },
    });
    await act.call('act.plan.register', {
      definition: {
        id: 'regex_check',
        steps: [{ id: 'review', pool: 'clerks', after: [], when: "payload.text.matches('(a+)+$')" }],
      },
    });
    await act.call('act.plan.register', {
      definition: {
        id: 'long_pattern',
        // 198 characters: RE2's work is the text times the pattern, charged before it runs.
        steps: [{ id: 'review', pool: 'clerks', after: [], when: `payload.text.matches('${'(a|b)+'.repeat(33)}')` }],
      },
    });
    await act.call('act.plan.register', { definition: { id: 'plain', steps: [{ id: 'only', pool: 'clerks', after: [] }] } });
  });

  afterAll(async () => {
    await act?.close();
  });

  const get = (id: string) => act.call('act.request.get', { id });

  const waitForStatus = (id: string, status: RequestStatus) => requestInStatus(act, id, status);

  const history = async (id: string): Promise<LedgerEntryView[]> => (await act.call('act.request.history', { id, limit: 500 })).items;

  const complete = (requestId: string, stepId: string) =>
    act.publish('oms.task.completed', requestId, { taskId: randomUUID(), stepId, pool: 'clerks', worker: 'worker-1', leaseId: randomUUID(), attempt: 1, output: {} });

  it('fails the step of a request whose when exceeds the budget, in the ledger, while a request created with it completes', async () => {
    const [bomb, plain] = await Promise.all([
      act.call('act.request.create', { plan: 'cel_bomb', payload: { items: range(5000) } }),
      act.call('act.request.create', { plan: 'plain', payload: {} }),
    ]);
    // Both steps whose tasks complete now are evaluated by the same consumer, the bomb's first.
    await complete(bomb.request.id, 'gather');
    await complete(plain.request.id, 'only');

    const failed = await waitForStatus(bomb.request.id, 'failed');
    expect(failed.steps.map((s) => [s.stepId, s.status])).toEqual([
      ['gather', 'done'],
      ['decide', 'failed'],
    ]);
    expect(await waitForStatus(plain.request.id, 'completed')).toMatchObject({ status: 'completed' });

    const reason = `the when of step 'decide' could not be evaluated: exceeded the CEL cost budget of ${CEL_LIMITS.costBudget} units (see docs/limits.md)`;
    const entries = await eventually(async () => {
      const found = await history(bomb.request.id);
      if (!found.some((entry) => entry.type === 'act.request.failed')) throw new Error('act.request.failed is not in the ledger yet');
      return found;
    });
    expect(entries.find((entry) => entry.type === 'act.request.failed')!.data).toEqual({ plan: 'cel_bomb', stepId: 'decide', reason });
    // ACT still answers, and a new request of the same plan over a small list runs normally.
    const small = await act.call('act.request.create', { plan: 'cel_bomb', payload: { items: range(10) } });
    await complete(small.request.id, 'gather');
    await eventually(async () => expect((await get(small.request.id)).steps.map((s) => s.status)).toEqual(['done', 'ready']));
  });

  it('matches a backtracking pattern in linear time, and fails at creation a request whose match would exceed the budget', async () => {
    const bomb = await act.call('act.request.create', { plan: 'regex_check', payload: { text: 'a'.repeat(50_000).concat('b') } });
    // 50,001 characters × a 6-character pattern: within the budget, matched in linear time (false), so the step is skipped.
    expect(await get(bomb.request.id)).toMatchObject({ status: 'completed', steps: [{ stepId: 'review', status: 'skipped' }] });

    const over = await act.call('act.request.create', { plan: 'long_pattern', payload: { text: 'a'.repeat(150_000) } });
    const failed = await get(over.request.id);
    expect(failed).toMatchObject({ status: 'failed', steps: [{ stepId: 'review', status: 'failed' }] });
  });

  it('refuses a plan past the CEL limits over NATS, with the path of the expression', async () => {
    const error = await rpcError(
      act.call('act.plan.register', {
        definition: {
          id: 'cel_too_deep',
          steps: [
            { id: 'a', pool: 'clerks' },
            { id: 'b', pool: 'clerks', when: 'payload.a.all(x, payload.b.all(y, payload.c.exists(z, x + y == z)))' },
            { id: 'c', pool: 'clerks', when: "payload.s.matches('(?=x)')" },
          ],
        },
      }),
    );
    expect(error).toMatchObject({
      code: 'VALIDATION_FAILED',
      details: [
        { path: 'steps[1].when', message: expect.stringMatching(/^nests iterating macros 3 deep; at most 2 are allowed/) },
        { path: 'steps[2].when', message: expect.stringMatching(/^has a matches\(\) pattern that is not RE2 syntax/) },
      ],
    });
  });
});
