import { CreateRequestCommand, DomainError, LeaseTasksCommand, UpsertPoolCommand } from '@hms/contracts';
import { validateMessage } from './rpc';

async function problemsOf(messageClass: new () => object, payload: unknown) {
  try {
    validateMessage(messageClass, payload);
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe('VALIDATION_FAILED');
    return (error as DomainError).details ?? [];
  }
}

describe(validateMessage.name, () => {
  it('accepts a well-formed message and returns an instance of its class', async () => {
    const message = validateMessage(LeaseTasksCommand, { pool: 'payments', worker: 'bot-1', max: 10 });
    expect(message).toBeInstanceOf(LeaseTasksCommand);
  });

  it('names each wrong or unknown field by its path', async () => {
    const details = await problemsOf(LeaseTasksCommand, { pool: 'Bad Pool', worker: 'w', max: 0, extra: true });
    expect(details.map((d) => d.path).sort()).toEqual(['extra', 'max', 'pool']);
  });

  it('reports nested fields with dotted paths', async () => {
    const details = await problemsOf(UpsertPoolCommand, { pool: 'p', kind: 'human', autoscale: { tasksPerReplica: 0, minReplicas: 0, maxReplicas: 1 } });
    expect(details.map((d) => d.path)).toEqual(['autoscale.tasksPerReplica']);
  });

  it('refuses a message that is not an object', async () => {
    expect(await problemsOf(CreateRequestCommand, [1, 2])).toEqual([{ path: '', message: 'expected an object' }]);
    expect(await problemsOf(CreateRequestCommand, 'plan')).toHaveLength(1);
  });
});
