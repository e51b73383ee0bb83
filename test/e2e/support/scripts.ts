import { spawn, type ChildProcess } from 'node:child_process';

/** A script run as its own process (a seed snippet, a Python worker), with its output lines kept. */
export class ScriptProcess {
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;
  private readonly waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];

  constructor(command: string, args: string[], options: { cwd: string; env: Record<string, string> }) {
    this.child = spawn(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => this.child.once('close', (code) => resolve(code)));
    this.read(this.child.stdout!, this.stdout);
    this.read(this.child.stderr!, this.stderr);
  }

  /** Resolves with the first output line matching `pattern` (already printed or still to come); rejects if the process exits first. */
  waitForLine(pattern: RegExp): Promise<string> {
    const seen = [...this.stdout, ...this.stderr].find((line) => pattern.test(line));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      this.waiters.push({ pattern, resolve });
      void this.exited.then((code) => reject(new Error(`exited (${code}) before printing ${pattern}:\n${this.output()}`)));
    });
  }

  /** Everything printed, for failure messages. */
  output(): string {
    return [...this.stdout, ...this.stderr.map((line) => `[stderr] ${line}`)].join('\n');
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }

  private read(stream: NodeJS.ReadableStream, lines: string[]): void {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        for (const waiter of [...this.waiters]) {
          if (!waiter.pattern.test(line)) continue;
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    });
  }
}

/** Runs a script to its end; resolves with its output lines, rejects when it exits non-zero. */
export async function runScript(command: string, args: string[], options: { cwd: string; env: Record<string, string> }): Promise<string[]> {
  const script = new ScriptProcess(command, args, options);
  const code = await script.exited;
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${code}:\n${script.output()}`);
  return script.stdout;
}
