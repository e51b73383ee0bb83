import { runCli, type CliIo } from '../cli';
import { createFakeFetch, type FakeFetch, type FakeRoute } from './fake-fetch';

/** What one in-process `hms` run printed and returned. */
export interface CliRun {
  stdout: string;
  stderr: string;
  exitCode: number;
  /** The gateway stand-in the run talked to. */
  fake: FakeFetch;
}

/** Options of {@link runHms}: the environment, gateway answers and readable files of the run. */
export interface CliRunOptions {
  env?: Record<string, string>;
  route?: FakeRoute;
  files?: Record<string, string>;
  /** Run as if stdout were a terminal (tables for people); default false, as in a pipe. */
  isTTY?: boolean;
}

/** Runs `hms <args>` in-process against a fake gateway, capturing output and the exit code. */
export async function runHms(args: string[], options: CliRunOptions = {}): Promise<CliRun> {
  const fake = createFakeFetch(options.route);
  let stdout = '';
  let stderr = '';
  const io: Partial<CliIo> = {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    env: options.env ?? {},
    fetch: fake.fetch,
    isTTY: options.isTTY ?? false,
    readFile: async (path) => {
      const content = options.files?.[path];
      if (content === undefined) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
      return content;
    },
  };
  const exitCode = await runCli(['node', 'hms', ...args], io);
  return { stdout, stderr, exitCode, fake };
}
