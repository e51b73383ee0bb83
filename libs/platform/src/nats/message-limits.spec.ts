import {
  CompleteTasksCommand,
  CreateRequestCommand,
  DomainError,
  FixedLimits,
  GetPlanQuery,
  HeartbeatTaskCommand,
  INT4_MAX,
  INT4_MIN,
  LeaseTasksCommand,
  RegisterPlanCommand,
  RequestHistoryQuery,
  RerouteQueueCommand,
  SetPoolSlaCommand,
  UpsertPoolCommand,
} from '@hms/contracts';
import { validateMessage } from './rpc';

function refusal(messageClass: new () => object, payload: unknown): { code: string; paths: string[]; messages: string[] } {
  try {
    validateMessage(messageClass, payload);
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    const details = (error as DomainError).details ?? [];
    return { code: (error as DomainError).code, paths: details.map((d) => d.path), messages: details.map((d) => d.message) };
  }
  throw new Error('the message was accepted');
}

function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

const lease = { taskId: '7d1f3c9e-8a55-4f63-9d8e-2b0b8f1f7a10', leaseToken: 'token' };

describe('validateMessage against the limits', () => {
  it.each([
    ['a NUL in a string field', LeaseTasksCommand, { pool: 'p', worker: 'a\u0000b' }, 'worker'],
    ['a lone surrogate in a string field', CreateRequestCommand, { plan: 'p', reference: 'x\ud800' }, 'reference'],
    ['a lone surrogate in a tag', LeaseTasksCommand, { pool: 'p', worker: 'w', tags: ['ok', '\udc00'] }, 'tags'],
    ['a NUL inside the payload', CreateRequestCommand, { plan: 'p', payload: { citizen: { name: 'a\u0000' } } }, 'payload'],
    ['a lone surrogate in a payload key', CreateRequestCommand, { plan: 'p', payload: { '\ud800': 1 } }, 'payload'],
    ['a NUL in an output nested in a batch', CompleteTasksCommand, { items: [{ ...lease, output: { a: '\u0000' } }] }, 'items[0].output'],
    ['a NUL in a YAML plan', RegisterPlanCommand, { yaml: 'id: a\u0000' }, 'yaml'],
    ['a plan id of 5,000 characters', GetPlanQuery, { id: 'p'.repeat(5000) }, 'id'],
    ['a pool id of 5,000 characters', UpsertPoolCommand, { pool: 'p'.repeat(5000), kind: 'human' }, 'pool'],
    ['a plan version past int4', GetPlanQuery, { id: 'p', version: INT4_MAX + 1 }, 'version'],
    ['a request version past int4', CreateRequestCommand, { plan: 'p', version: INT4_MAX + 1 }, 'version'],
    ['a request priority past its range', CreateRequestCommand, { plan: 'p', priority: INT4_MAX + 1 }, 'priority'],
    ['a request SLA past the timestamp range', CreateRequestCommand, { plan: 'p', slaMinutes: 1e300 }, 'slaMinutes'],
    ['a negative request SLA', CreateRequestCommand, { plan: 'p', slaMinutes: -1 }, 'slaMinutes'],
    ['a lease past int4', LeaseTasksCommand, { pool: 'p', worker: 'w', leaseSeconds: INT4_MAX + 1 }, 'leaseSeconds'],
    ['a negative lease', LeaseTasksCommand, { pool: 'p', worker: 'w', leaseSeconds: -1 }, 'leaseSeconds'],
    ['a heartbeat extension past int4', HeartbeatTaskCommand, { ...lease, extendSeconds: INT4_MAX + 1 }, 'extendSeconds'],
    ['a pool SLA past the range', SetPoolSlaCommand, { pool: 'p', minutes: FixedLimits.slaMinutes + 1 }, 'minutes'],
    ['an escalation delay past the range', UpsertPoolCommand, { pool: 'p', kind: 'human', escalation: { afterMinutes: 1e20 } }, 'escalation.afterMinutes'],
    ['a negative escalation delay', UpsertPoolCommand, { pool: 'p', kind: 'human', escalation: { afterMinutes: -5 } }, 'escalation.afterMinutes'],
    ['replicas past the range', UpsertPoolCommand, { pool: 'p', kind: 'bot', autoscale: { tasksPerReplica: INT4_MAX + 1, minReplicas: 0, maxReplicas: 1 } }, 'autoscale.tasksPerReplica'],
    ['a reroute priority past int4', RerouteQueueCommand, { pool: 'a', toPool: 'b', minPriority: INT4_MIN - 1 }, 'minPriority'],
    ['a cursor of 5,000 characters', RequestHistoryQuery, { id: 'r', cursor: '1'.repeat(5000) }, 'cursor'],
  ])('refuses %s with VALIDATION_FAILED at its path', (_name, messageClass, payload, path) => {
    const { code, paths } = refusal(messageClass, payload);
    expect(code).toBe('VALIDATION_FAILED');
    expect(paths).toContain(path);
  });

  it('answers a payload over the size limit with PAYLOAD_TOO_LARGE', () => {
    const { code, paths, messages } = refusal(CreateRequestCommand, { plan: 'p', payload: { blob: 'x'.repeat(256 * 1024) } });
    expect(code).toBe('PAYLOAD_TOO_LARGE');
    expect(paths).toEqual(['payload']);
    expect(messages[0]).toMatch(/^payload is \d+ bytes of JSON; at most 262144 are allowed$/);
  });

  it('answers an output over the size limit with PAYLOAD_TOO_LARGE', () => {
    const { code, paths } = refusal(CompleteTasksCommand, { items: [{ ...lease, output: { blob: 'x'.repeat(256 * 1024) } }] });
    expect(code).toBe('PAYLOAD_TOO_LARGE');
    expect(paths).toEqual(['items[0].output']);
  });

  it('refuses a message nested 50,000 deep at its top field, without overflowing the stack', () => {
    const { code, paths, messages } = refusal(CreateRequestCommand, { plan: 'p', payload: nested(50_000) });
    expect(code).toBe('VALIDATION_FAILED');
    expect(paths).toEqual(['payload']);
    expect(messages).toEqual(['nests deeper than 64 levels']);
  });

  it('refuses a payload just past the depth limit at the payload, and takes one at it', () => {
    expect(refusal(CreateRequestCommand, { plan: 'p', payload: nested(65) })).toMatchObject({ code: 'VALIDATION_FAILED', paths: ['payload'] });
    expect(() => validateMessage(CreateRequestCommand, { plan: 'p', payload: nested(64) })).not.toThrow();
  });

  it('takes the largest values within the limits', () => {
    const payload = { blob: 'x'.repeat(256 * 1024 - 20) };
    expect(() => validateMessage(CreateRequestCommand, { plan: 'p'.repeat(FixedLimits.idLength), payload, version: INT4_MAX, slaMinutes: FixedLimits.slaMinutes })).not.toThrow();
    expect(() => validateMessage(GetPlanQuery, { id: 'p', version: String(INT4_MAX) })).not.toThrow();
  });
});
