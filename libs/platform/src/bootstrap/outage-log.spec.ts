import { Writable } from 'node:stream';
import pino from 'pino';
import { OutageLog, outagePartOf } from './outage-log';

function withCode(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

function named(name: string, message = name, extra: object = {}): Error {
  return Object.assign(new Error(message), { name }, extra);
}

describe(outagePartOf.name, () => {
  it.each([
    ['a refused Postgres connection', withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'), 'Postgres'],
    ['a NATS request timing out', named('TimeoutError', 'timeout'), 'NATS'],
    ['a closed NATS connection', named('ClosedConnectionError', 'closed connection'), 'NATS'],
    ['a request nobody answered', named('RequestError', 'no responders', { cause: named('NoResponders') }), 'NATS'],
    ['JetStream answering 503', named('JetStreamStatusError', 'no responders', { code: 503 }), 'NATS'],
    ['JetStream refusing a message', named('JetStreamStatusError', 'maximum payload exceeded', { code: 400 }), undefined],
    ['a bug', new TypeError('x is undefined'), undefined],
    ['an HTTP call that timed out (AbortSignal.timeout)', new DOMException('The operation was aborted due to timeout', 'TimeoutError'), undefined],
  ])('%s: %s', (_, error, part) => {
    expect(outagePartOf(error)).toBe(part);
  });
});

describe(OutageLog.name, () => {
  function capture(): { logger: pino.Logger; lines: Array<{ level: number; msg: string }> } {
    const lines: Array<{ level: number; msg: string }> = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as { level: number; msg: string });
        done();
      },
    });
    return { logger: pino({ level: 'debug' }, sink), lines };
  }

  it('logs one line when an outage starts and one when it ends, however many failures between', async () => {
    const { logger, lines } = capture();
    const outage = new OutageLog(logger, 'job test');
    for (let i = 0; i < 50; i += 1) expect(outage.failed(withCode('connect ECONNREFUSED', 'ECONNREFUSED'))).toBe('Postgres');
    expect(outage.down).toBe(true);
    outage.succeeded();
    outage.succeeded();
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines.map((line) => line.msg)).toEqual(['Postgres is unavailable; retrying until it is back', 'Postgres is back; resumed']);
    expect(outage.down).toBe(false);
  });

  it('leaves any other error to the caller', () => {
    const { logger, lines } = capture();
    const outage = new OutageLog(logger, 'rpc');
    expect(outage.failed(withCode('duplicate key', '23505'))).toBeUndefined();
    expect(lines).toEqual([]);
  });
});
