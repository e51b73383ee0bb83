import { HmsApiError, HmsClient, Pool } from '@hms/client';
import { CEL_LIMITS } from '@hms/contracts';
import { ledgerThrough, startE2eStack, waitUntil } from './support/e2e-stack';

/**
 * Expensive CEL through the gateway: a plan past the static limits is a 400 with the expression's
 * path; a request whose condition exceeds the cost budget fails with the reason in its history,
 * while a request created beside it is leased and completed as usual.
 */
describe('CEL budget through the gateway', () => {
  let env: Awaited<ReturnType<typeof startE2eStack>>;

  beforeAll(async () => {
    env = await startE2eStack('e2e_cel_budget');
  });

  afterAll(async () => {
    await env?.dispose();
  });

  it('answers 400 with the path for a plan past the CEL limits', async () => {
    const error = await env.manager.plans
      .register({
        id: 'cel_refused',
        steps: [
          { id: 'a', pool: 'clerks', when: "payload.text.matches('(a)\\\\1')" },
          { id: 'b', pool: 'clerks', when: '('.repeat(2000) + 'true' },
        ],
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HmsApiError);
    expect(error).toMatchObject({
      status: 400,
      code: 'VALIDATION_FAILED',
      details: [
        { path: 'steps[0].when', message: expect.stringMatching(/not RE2 syntax/) },
        { path: 'steps[1].when', message: 'nests brackets 2000 deep; at most 32 are allowed' },
      ],
    });
  });

  it('fails the request whose when exceeds the budget, and completes the one created beside it', async () => {
    const { manager, stack } = env;
    await manager.plans.register({ id: 'cel_bomb', steps: [{ id: 'decide', pool: 'clerks', when: 'payload.items.all(x, payload.items.exists(y, y == x))' }] });
    await manager.plans.register({ id: 'cel_plain', steps: [{ id: 'work', pool: 'clerks' }] });

    const items = Array.from({ length: 5000 }, (_, i) => i);
    const [bomb, plain] = await Promise.all([
      manager.requests.create({ plan: 'cel_bomb', payload: { items } }),
      manager.requests.create({ plan: 'cel_plain', payload: {} }),
    ]);

    const worker = new Pool('clerks', new HmsClient({ baseUrl: stack.gatewayUrl, token: await stack.workerToken(['clerks'], 'clerk') })).login('clerk');
    const task = await waitUntil(async () => (await worker.nextTask({ waitSeconds: 2 })) ?? undefined);
    expect(task.requestId).toBe(plain.id);
    await task.complete({ done: true });
    await waitUntil(async () => (await manager.requests.get(plain.id)).status === 'completed');

    expect(await manager.requests.get(bomb.id)).toMatchObject({ status: 'failed', steps: [{ stepId: 'decide', status: 'failed' }] });
    const history = await ledgerThrough(manager, bomb.id, 'act.request.failed');
    expect(history.find((entry) => entry.type === 'act.request.failed')?.data).toEqual({
      plan: 'cel_bomb',
      stepId: 'decide',
      reason: `the when of step 'decide' could not be evaluated: exceeded the CEL cost budget of ${CEL_LIMITS.costBudget} units (see docs/limits.md)`,
    });
  });
});
