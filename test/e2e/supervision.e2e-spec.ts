import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { HmsClient } from '@hms/client';
import { CONFIG_ERROR_EXIT_CODE } from '@hms/platform';
import { freshTestEnvironment, repoRoot, startStack, testNatsAuth, type Stack } from '@hms/testing';

/** Resolves with the first line `lines` receives that matches `pattern`. */
function lineMatching(lines: { listeners: Array<(line: string) => void> }, pattern: RegExp): Promise<string> {
  return new Promise((resolve) => {
    const listener = (line: string) => {
      if (!pattern.test(line)) return;
      lines.listeners.splice(lines.listeners.indexOf(listener), 1);
      resolve(line);
    };
    lines.listeners.push(listener);
  });
}

/** `npm start`'s supervisor (startStack with `supervise`): a service that dies is started again and serves. */
describe('ServiceSupervisor', () => {
  let stack: Stack;
  let environment: Awaited<ReturnType<typeof freshTestEnvironment>>;
  const supervisorLog = { all: [] as string[], listeners: [] as Array<(line: string) => void> };

  beforeAll(async () => {
    environment = await freshTestEnvironment('e2e_supervision');
    stack = await startStack({
      databaseUrl: environment.databaseUrl,
      natsUrl: environment.natsUrl,
      natsAuth: testNatsAuth(),
      subjectPrefix: environment.subjectPrefix,
      supervise: {
        // Short delays: the test waits for the restart, not for the policy of `npm start`.
        policy: { initialMs: 50, maxMs: 1000, resetAfterMs: 60_000 },
        log: (line) => {
          supervisorLog.all.push(line);
          for (const listener of [...supervisorLog.listeners]) listener(line);
        },
      },
    });
  });

  afterAll(async () => {
    await stack?.stop();
    await environment?.dispose();
  });

  it('restarts OMS after it is killed, says why, and OMS serves again', async () => {
    const manager = new HmsClient({ baseUrl: stack.gatewayUrl, token: stack.managerToken });
    await manager.pools.put('supervised', { kind: 'bot' });
    const pid = stack.services.oms.pid!;
    const exited = lineMatching(supervisorLog, /^oms exited/);
    const restarted = lineMatching(supervisorLog, /^oms restarted and ready$/);

    process.kill(pid, 'SIGKILL');

    expect(await exited).toMatch(/^oms exited \(killed by SIGKILL\); restarting in 50 ms \(attempt 1\)$/);
    await restarted;
    expect(stack.services.oms.pid).not.toBe(pid);
    expect(stack.supervisors!.oms.restarts).toBe(1);
    await expect(manager.pools.get('supervised')).resolves.toMatchObject({ pool: 'supervised' });
  });

  it('stops every service, and restarts none, when the stack is stopped', async () => {
    const services = Object.values(stack.services);
    await stack.stop();
    expect(services.map((service) => service.running)).toEqual(services.map(() => false));
    expect(supervisorLog.all.filter((line) => / exited /.test(line))).toHaveLength(1);
  });
});

describe('A service with an invalid configuration', () => {
  it('exits with the list of problems, no stack trace, and the configuration exit code', async () => {
    const main = join(repoRoot(), 'dist', 'apps', 'oms', 'src', 'main.js');
    const child = spawn(process.execPath, [main], {
      env: { PATH: process.env.PATH, DATABASE_URL: 'mysql://nowhere', NATS_URL: 'nats://127.0.0.1:1', OMS_LEASE_SWEEP_MS: 'soon', DATABASE_STATEMENT_TIMEOUT_MS: '-5' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));

    expect(code).toBe(CONFIG_ERROR_EXIT_CODE);
    const lines = stderr.trim().split('\n');
    expect(lines[0]).toBe('Invalid configuration:');
    expect(lines.slice(1).every((line) => line.startsWith('  - '))).toBe(true);
    expect(stderr).toContain('DATABASE_URL: DATABASE_URL must be a postgres:// URL');
    expect(stderr).toContain('OMS_LEASE_SWEEP_MS:');
    expect(stderr).toContain('DATABASE_STATEMENT_TIMEOUT_MS:');
    expect(stderr).not.toMatch(/^\s+at /m);
  });
});
