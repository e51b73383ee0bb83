/**
 * `npm run bench -- <name> [--key value …]`: the project's benchmarks. Each prints its figures as
 * a Markdown table; none of them is a test. Postgres and NATS: DATABASE_URL / NATS_URL, or
 * embedded ones started for the run.
 */
import { machineLine } from './bench-support';
import { gatewayBench } from './gateway.bench';
import { actBench } from './act.bench';
import { omsBench } from './oms.bench';
import { relayBench } from './relay.bench';
import { fanoutBench } from './fanout.bench';
import { transportBench } from './transport.bench';

function options(args: string[]): Record<string, string> {
  const parsed: Record<string, string> = {};
  for (let i = 0; i < args.length; i += 1) {
    if (!args[i].startsWith('--')) continue;
    // A flag followed by another option (or by nothing) is a switch: `--statements --items 2000`.
    const value = args[i + 1];
    parsed[args[i].slice(2)] = value === undefined || value.startsWith('--') ? 'true' : value;
  }
  return parsed;
}

const BENCHES: Record<string, (o: Record<string, string>) => Promise<void>> = {
  act: (o) => actBench({ requests: Number(o.requests ?? 2000), clients: Number(o.clients ?? 16), samples: Number(o.samples ?? 200) }),
  relay: (o) => relayBench({ events: Number(o.events ?? 20_000) }),
  gateway: (o) =>
    gatewayBench({
      requests: Number(o.requests ?? 2000),
      inFlight: Number(o['in-flight'] ?? 32),
      batchRequests: Number(o['batch-requests'] ?? 5000),
      batchSize: Number(o['batch-size'] ?? 1000),
      tasks: Number(o.tasks ?? 3000),
      workers: Number(o.workers ?? 10),
      pickups: Number(o.pickups ?? 1000),
      rates: (o.rates ?? '200,1000').split(',').map(Number),
      figures: (o.figures ?? '1,2,3,4').split(','),
      statements: o.statements === 'true',
      census: o.census === 'true',
      pickupNext: o['pickup-next'] !== 'false',
    }),
  oms: (o) =>
    omsBench({
      tasks: Number(o.tasks ?? 5000),
      workers: Number(o.workers ?? 8),
      pickupSamples: Number(o['pickup-samples'] ?? 500),
      latencySamples: Number(o['latency-samples'] ?? 500),
      smallDepth: Number(o['small-depth'] ?? 10_000),
      largeDepth: Number(o['large-depth'] ?? 1_000_000),
      graphileJobs: Number(o['graphile-jobs'] ?? 5000),
      graphileConcurrency: Number(o['graphile-concurrency'] ?? 10),
      runs: (o.runs ?? 'max1,max10,batch').split(','),
      pairs: Number(o.pairs ?? 3),
    }),
  fanout: (o) =>
    fanoutBench({
      items: Number(o.items ?? 100_000),
      bots: Number(o.bots ?? 10),
      max: Number(o.max ?? 100),
      waitSeconds: Number(o['wait-seconds'] ?? 5),
      addChunk: Number(o['add-chunk'] ?? 1000),
      pairs: Number(o.pairs ?? 1),
      statements: o.statements === 'true',
      peerOnly: o['peer-only'] === 'true',
    }),
  transport: (o) =>
    transportBench({ calls: Number(o.calls ?? 5000), rounds: Number(o.rounds ?? 7), warmup: Number(o.warmup ?? 5000), mode: (o.mode ?? 'both') as 'both' | 'nest' | 'plain' }),
};

async function main(): Promise<void> {
  const [name = 'gateway', ...rest] = process.argv.slice(2);
  const bench = BENCHES[name];
  if (!bench) throw new Error(`unknown benchmark '${name}'; choose one of: ${Object.keys(BENCHES).join(', ')}`);
  process.stdout.write(`# npm run bench -- ${[name, ...rest].join(' ')}\n${machineLine()}\n`);
  await bench(options(rest));
}

main().then(
  () => process.exit(0),
  (error: Error) => {
    process.stderr.write(`${error.stack ?? error.message}\n`);
    process.exit(1);
  },
);
