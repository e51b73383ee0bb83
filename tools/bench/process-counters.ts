/**
 * Preloaded (`NODE_OPTIONS=--require …/process-counters.js`) into a bench's service processes
 * to compare two builds of one service on a loaded machine by what does not move with the load:
 * in the service named by `HMS_BENCH_COUNTERS_SERVICE` (say `oms`) it counts RPC calls by subject
 * (`RpcServer.handle`), garbage collections by kind (scavenges track allocation), read and write
 * system calls and context switches, and takes the process's CPU; on SIGTERM (the bench stopping
 * its stack) it writes them to `HMS_BENCH_COUNTERS_DIR/<service>.<pid>.json`. `HMS_BENCH_PROFILE=1` adds a CPU profile
 * (`.cpuprofile`, sampled every 200 µs; on a loaded machine its times include descheduled time, so
 * read its shares, not its totals). Without the variables it does nothing. A bench instrument,
 * never loaded in production. Used for the RPC transport's A/B pairs (performance-history.md,
 * "The RPC transport, third attempt").
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.HMS_BENCH_COUNTERS_DIR;
const service = process.env.HMS_BENCH_COUNTERS_SERVICE;
if (dir && service && process.argv[1]?.includes(`/apps/${service}/`)) {
  const Module = require('node:module') as { _load: (request: string, ...rest: unknown[]) => unknown };
  const { PerformanceObserver } = require('node:perf_hooks') as typeof import('node:perf_hooks');
  const calls: Record<string, number> = {};
  const gc: Record<string, { count: number; ms: number }> = {};

  // Wraps RpcServer.handle when the platform's rpc module is first loaded (the services' own copy).
  const load = Module._load;
  Module._load = function countingLoad(this: unknown, request: string, ...rest: unknown[]) {
    const exported = load.call(this, request, ...rest) as { RpcServer?: { prototype: Record<string, unknown> } };
    const prototype = /nats[\\/]rpc(\.js)?$/.test(request) ? exported?.RpcServer?.prototype : undefined;
    if (prototype && !prototype.countedHandle) {
      const handle = prototype.handle as (subject: string, ...args: unknown[]) => unknown;
      prototype.countedHandle = true;
      prototype.handle = function countedHandle(this: unknown, subject: string, ...args: unknown[]) {
        calls[subject] = (calls[subject] ?? 0) + 1;
        return handle.call(this, subject, ...args);
      };
    }
    return exported;
  };

  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = String((entry as { detail?: { kind?: number } }).detail?.kind ?? 'unknown');
      const figure = (gc[kind] ??= { count: 0, ms: 0 });
      figure.count += 1;
      figure.ms += entry.duration;
    }
  }).observe({ entryTypes: ['gc'] });

  let profiler: import('node:inspector').Session | undefined;
  if (process.env.HMS_BENCH_PROFILE === '1') {
    const { Session } = require('node:inspector') as typeof import('node:inspector');
    profiler = new Session();
    profiler.connect();
    profiler.post('Profiler.enable');
    profiler.post('Profiler.setSamplingInterval', { interval: 200 });
    profiler.post('Profiler.start');
  }

  const start = process.cpuUsage();
  const file = join(dir, `${service}.${process.pid}`);
  const write = () => {
    const cpu = process.cpuUsage(start);
    const usage = process.resourceUsage();
    // Read and write system calls (socket writes included), and how often the process slept and woke:
    // what a change in how replies are batched onto the sockets would move.
    const io = Object.fromEntries(
      readFileSync('/proc/self/io', 'utf8')
        .split('\n')
        .filter((line) => line.startsWith('sysc'))
        .map((line) => line.split(': '))
        .map(([name, value]) => [name, Number(value)]),
    );
    const switches = { voluntary: usage.voluntaryContextSwitches, involuntary: usage.involuntaryContextSwitches };
    writeFileSync(`${file}.json`, JSON.stringify({ cpuSeconds: (cpu.user + cpu.system) / 1e6, calls, gc, io, switches }, null, 1));
    // The in-process inspector answers synchronously, so the profile is written before the process ends.
    profiler?.post('Profiler.stop', (error, result) => {
      if (!error) writeFileSync(`${file}.cpuprofile`, JSON.stringify(result.profile));
    });
  };
  // Nest's shutdown hook re-raises SIGTERM once the app has closed: this listener goes first, then
  // steps aside so the signal ends the process as before.
  const onTerm = () => {
    process.removeListener('SIGTERM', onTerm);
    write();
  };
  process.on('SIGTERM', onTerm);
}
