import { DomainError } from '@hms/contracts';
import { serializeError } from './logger';

describe(serializeError.name, () => {
  it('logs a domain error as its code and message, without a stack', () => {
    expect(serializeError(new DomainError('UNAVAILABLE', 'The oms service did not answer (timed out)'))).toEqual({
      type: 'DomainError',
      code: 'UNAVAILABLE',
      message: 'The oms service did not answer (timed out)',
    });
  });

  it('logs a lost Postgres connection as one line, without the client it carries', () => {
    const error = Object.assign(new Error('Connection terminated unexpectedly'), { client: { connection: { stream: 'a socket' } } });
    expect(serializeError(error)).toEqual({ type: 'Error', message: 'Connection terminated unexpectedly' });
  });

  it('keeps the stack and fields of anything else', () => {
    const error = Object.assign(new TypeError('x is undefined'), { code: 'E_BUG' });
    expect(serializeError(error)).toMatchObject({ type: 'TypeError', message: 'x is undefined', code: 'E_BUG', stack: expect.stringContaining('TypeError: x is undefined') });
  });
});
