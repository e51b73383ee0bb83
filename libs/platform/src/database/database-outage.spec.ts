import { errorSummary, isDatabaseUnavailable, isStatementTimeout } from './database-outage';

function withCode(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

describe(isDatabaseUnavailable.name, () => {
  it.each([
    ['a refused connection', withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')],
    ['a reset connection', withCode('read ECONNRESET', 'ECONNRESET')],
    ['a connection that ended', new Error('Connection terminated unexpectedly')],
    ['no connection in time', new Error('timeout exceeded when trying to connect')],
    ['a broken client', new Error('Client has encountered a connection error and is not queryable')],
    ['a server shutting down', withCode('terminating connection due to administrator command', '57P01')],
    ['a server starting up', withCode('the database system is starting up', '57P03')],
    ['too many connections', withCode('sorry, too many clients already', '53300')],
    ['a connection exception', withCode('connection failure', '08006')],
    ['a wrapped driver error (TypeORM)', Object.assign(new Error('Query failed'), { driverError: withCode('x', '57P01') })],
    ['refusals to each address', Object.assign(new AggregateError([withCode('', 'ECONNREFUSED'), withCode('', 'ECONNREFUSED')]), {})],
    ['a cause', new Error('outer', { cause: withCode('inner', 'ECONNREFUSED') })],
    ['a transaction whose runner TypeORM released when its connection broke', Object.assign(new Error('Query runner already released. Cannot run queries anymore.'), { name: 'QueryRunnerAlreadyReleasedError' })],
    ['the entity manager of such a transaction', Object.assign(new Error('Database connection provided by a query runner was already released'), { name: 'QueryRunnerProviderAlreadyReleasedError' })],
  ])('is true for %s', (_, error) => {
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it.each([
    ['a unique violation', withCode('duplicate key value violates unique constraint', '23505')],
    ['a syntax error', withCode('syntax error at or near', '42601')],
    ['a statement timeout', withCode('canceling statement due to statement timeout', '57014')],
    ['a plain bug', new TypeError('cannot read properties of undefined')],
    ['not an error', 'ECONNREFUSED'],
    ['null', null],
  ])('is false for %s', (_, error) => {
    expect(isDatabaseUnavailable(error)).toBe(false);
  });

  it('recognises a statement timeout, bare or wrapped', () => {
    expect(isStatementTimeout(withCode('canceling statement due to statement timeout', '57014'))).toBe(true);
    expect(isStatementTimeout({ driverError: { code: '57014' } })).toBe(true);
    expect(isStatementTimeout(withCode('x', '57P01'))).toBe(false);
  });
});

describe(errorSummary.name, () => {
  it('gives code and message on one line, or the inner ones of an AggregateError', () => {
    expect(errorSummary(withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'))).toBe('ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:5432');
    expect(errorSummary(new AggregateError([new Error('a'), new Error('b')]))).toBe('a; b');
  });
});
