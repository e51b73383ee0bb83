import { lastErrorLine } from './stack';
import { describeExit } from './supervisor';

describe(describeExit.name, () => {
  it.each([
    [{ code: 1, signal: null, lastError: 'Error: listen EADDRINUSE: address already in use 0.0.0.0:3002' }, 'exit code 1: Error: listen EADDRINUSE: address already in use 0.0.0.0:3002'],
    [{ code: null, signal: 'SIGKILL' as const, lastError: '' }, 'killed by SIGKILL'],
    [{ code: 0, signal: null, lastError: '' }, 'exit code 0'],
  ])('says why a process ended: %j', (exit, said) => {
    expect(describeExit(exit)).toBe(said);
  });
});

describe(lastErrorLine.name, () => {
  it('skips stack frames and the Node.js footer of an uncaught exception', () => {
    const stderr = [
      'node:events:497',
      '      throw er; // Unhandled \'error\' event',
      '      ^',
      '',
      'Error: Connection terminated unexpectedly',
      '    at Connection.<anonymous> (/app/node_modules/pg/lib/client.js:136:73)',
      '    at Object.onceWrapper (node:events:632:28)',
      "Emitted 'error' event on Client instance at:",
      '    at Client._handleErrorEvent (/app/node_modules/pg/lib/client.js:350:10)',
      '',
      'Node.js v20.20.2',
      '',
    ].join('\n');
    expect(lastErrorLine(stderr)).toBe('Error: Connection terminated unexpectedly');
  });

  it('is empty when nothing was written', () => {
    expect(lastErrorLine('')).toBe('');
  });

  it("gives a service's fatal JSON line as its message and error, without the stack", () => {
    const fatal = JSON.stringify({ level: 'fatal', msg: 'failed to start', err: 'connect ECONNREFUSED 127.0.0.1:5432', stack: 'Error: connect ECONNREFUSED\n    at x' });
    expect(lastErrorLine(`${fatal}\n`)).toBe('failed to start: connect ECONNREFUSED 127.0.0.1:5432');
  });
});
