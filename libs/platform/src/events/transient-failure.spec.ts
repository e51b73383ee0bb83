import { DomainError } from '@hms/contracts';
import { isTransientFailure } from './transient-failure';

const pgError = (code: string, message = 'pg says no') => Object.assign(new Error(message), { code });

describe(isTransientFailure.name, () => {
  it.each([
    ['a connection refused', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })],
    ['a statement timeout', pgError('57014', 'canceling statement due to statement timeout')],
    ['a lock timeout', pgError('55P03')],
    ['a deadlock', pgError('40P01')],
    ['a serialization failure', pgError('40001')],
    ['an admin shutdown', pgError('57P01')],
    ['a connection exception', pgError('08006')],
    ['too many connections', pgError('53300')],
    ['a TypeORM-wrapped timeout', Object.assign(new Error('QueryFailedError'), { driverError: { code: '57014' } })],
    ['a dropped connection', new Error('Connection terminated unexpectedly')],
    ['a pool that cannot connect', new Error('timeout exceeded when trying to connect')],
    ['an unavailable service', new DomainError('UNAVAILABLE', 'no replica')],
  ])('is transient for %s', (_what, error) => {
    expect(isTransientFailure(error)).toBe(true);
  });

  it.each([
    ['a NUL in jsonb', pgError('22P05', 'unsupported Unicode escape sequence')],
    ['an int4 overflow', pgError('22003', 'integer out of range')],
    ['a unique violation', pgError('23505')],
    ['a missing table', pgError('42P01')],
    ['a bug', new TypeError("Cannot read properties of undefined (reading 'pool')")],
    ['a domain error', new DomainError('NOT_FOUND', 'Pool x was not found')],
    ['a string', 'boom'],
    ['nothing', undefined],
  ])('is the event’s for %s', (_what, error) => {
    expect(isTransientFailure(error)).toBe(false);
  });
});
