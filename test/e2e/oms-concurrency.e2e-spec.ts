import { DomainError, type Actor, type LeasedTask, type LedgerEntryView, type RpcRequest, type RpcResponse, type RpcSubject } from '@hms/contracts';
import { RpcClient, type NatsBus } from '@hms/platform';
import { freePort, ServiceProcess } from '@hms/testing';
import { startE2eStack } from './support/e2e-stack';

/**
 * OMS under concurrency: two OMS replicas, 16 workers leasing, completing, failing, releasing and
 * abandoning tasks of one pool at once, and one replica SIGKILLed in the middle. The ledger must
 * show every request completed, every task completed exactly once, never two leases open on one
 * task, and every completion a worker saw acknowledged.
 *
 * N: 5000 requests, as the issue asks: ~55 s on 2 quiet cores since the batching work (creating
 * them through the gateway is ~32 s of it). HMS_CONC_N runs another size.
 */
const N = Number(process.env.HMS_CONC_N ?? 5000);
const WORKERS = 16;
const CREATE_IN_FLIGHT = 32;
const READ_IN_FLIGHT = 16;
const POOL = 'conc';
const PLAN = 'conc_one';

const PLAN_YAML = `
id: ${PLAN}
title: One-step concurrency plan
steps:
  - id: work
    title: Do the work
    pool: ${POOL}
    retry: { attempts: 10, backoffSeconds: 0.05 }
`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `fn` over `items` with at most `limit` in flight. */
async function inParallel<T>(items: T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        await fn(items[index], index);
      }
    }),
  );
}

const codeOf = (error: unknown) => (error as { code?: string }).code;

interface Ack {
  worker: string;
  attempt: number;
}

/** The leases of one task as its ledger shows them, by lease id. */
interface TaskLeases {
  leases: Array<{ leaseId: string; openAt?: number; closedAt?: number; openSeq?: number; closedBy?: string; closedSeq?: number; opened: number; closed: number }>;
  completions: LedgerEntryView[];
}

/** Groups a request's `oms.task.*` entries by task and lease. */
function leasesOf(history: LedgerEntryView[]): Map<string, TaskLeases> {
  const tasks = new Map<string, TaskLeases>();
  for (const entry of history) {
    if (!entry.type.startsWith('oms.task.') || entry.data.taskId === undefined) continue;
    const taskId = String(entry.data.taskId);
    const task = tasks.get(taskId) ?? { leases: [], completions: [] };
    tasks.set(taskId, task);
    if (entry.type === 'oms.task.completed') task.completions.push(entry);
    const leaseId = entry.data.leaseId;
    if (typeof leaseId !== 'string') continue;
    let lease = task.leases.find((l) => l.leaseId === leaseId);
    if (!lease) {
      lease = { leaseId, opened: 0, closed: 0 };
      task.leases.push(lease);
    }
    const at = Date.parse(entry.at);
    if (entry.type === 'oms.task.leased') {
      lease.opened += 1;
      lease.openAt = at;
      lease.openSeq = entry.seq;
    } else if (['oms.task.completed', 'oms.task.failed', 'oms.task.requeued', 'oms.task.cancelled'].includes(entry.type)) {
      lease.closed += 1;
      lease.closedAt = at;
      lease.closedBy = `${entry.type}#${entry.seq}`;
      lease.closedSeq = entry.seq;
    }
  }
  return tasks;
}

/**
 * Never two leases open at once: each lease is opened once and closed once (completed, failed,
 * requeued or cancelled), and, in the order the leases were granted, each one is closed before
 * the next is granted.
 *
 * Time order comes from each event's `at` (taken inside the OMS transaction that made the change,
 * on one host clock here); equal milliseconds are not an overlap. The ledger's `seq` order is
 * counted apart (`seqInversions`): it is causal as long as one relay publishes at a time and one
 * ACT appends.
 */
function checkLeases(task: TaskLeases, stats: { seqInversions: number }): string[] {
  const problems: string[] = [];
  for (const lease of task.leases) {
    if (lease.opened !== 1 || lease.closed !== 1) problems.push(`lease ${lease.leaseId} opened ${lease.opened}x and closed ${lease.closed}x`);
  }
  const ordered = task.leases.filter((l) => l.openAt !== undefined && l.closedAt !== undefined).sort((a, b) => a.openAt! - b.openAt! || a.openSeq! - b.openSeq!);
  for (let i = 1; i < ordered.length; i += 1) {
    const previous = ordered[i - 1];
    const lease = ordered[i];
    if (previous.closedSeq! > lease.openSeq!) stats.seqInversions += 1;
    if (previous.closedAt! > lease.openAt!) {
      problems.push(
        `lease ${lease.leaseId} granted at ${new Date(lease.openAt!).toISOString()} while lease ${previous.leaseId} was open until ${new Date(previous.closedAt!).toISOString()} (${previous.closedBy})`,
      );
    }
  }
  const last = ordered[ordered.length - 1];
  if (task.completions.length > 0 && last && !last.closedBy?.startsWith('oms.task.completed')) problems.push(`the last lease ${last.leaseId} ended with ${last.closedBy}, not the completion`);
  return problems;
}

describe('OMS under concurrent workers and a replica crash', () => {
  let env: Awaited<ReturnType<typeof startE2eStack>>;
  let replica: ServiceProcess | undefined;
  let bus: NatsBus | undefined;

  beforeAll(async () => {
    env = await startE2eStack('e2e_conc');
    replica = new ServiceProcess('oms', await freePort(), env.serviceEnv('oms'));
    await replica.start();
    // The workers' calls as the gateway forwards them: its user, actor headers signed with the stack's key.
    bus = await env.connectAs('gateway', 'e2e-conc-workers');
  });

  afterAll(async () => {
    await bus?.close();
    await replica?.stop();
    await env?.dispose();
  });

  it('completes every task exactly once, never double-leases, and loses no acknowledged completion', async () => {
    const started = Date.now();
    const { stack, manager } = env;
    const rpc = new RpcClient(bus!);
    const actor: Actor = { id: 'service@hms', roles: ['service'] };
    const call = <S extends RpcSubject>(subject: S, message: RpcRequest<S>) => rpc.call(subject, message, { actor, timeoutMs: 5000 });

    await manager.pools.put(POOL, { kind: 'bot', leaseSeconds: 2, maxAttempts: 10 });
    await manager.plans.register(PLAN_YAML);

    // What the workers saw: the complete acknowledged for each task, and anything unexpected.
    const acked = new Map<string, Ack>();
    const doubleAcks: string[] = [];
    const unexpected: string[] = [];
    const counts = { leased: 0, completed: 0, failed: 0, released: 0, abandoned: 0, leaseLost: 0, unavailable: 0 };
    let done = false;

    /** Calls with a lease, retrying UNAVAILABLE (same token: the outcome is idempotent). */
    const withLease = async <S extends RpcSubject>(subject: S, message: RpcRequest<S>): Promise<RpcResponse<S> | 'lost'> => {
      for (;;) {
        try {
          return await call(subject, message);
        } catch (error) {
          if (codeOf(error) === 'LEASE_LOST') {
            counts.leaseLost += 1;
            return 'lost';
          }
          if (codeOf(error) !== 'UNAVAILABLE' || done) throw error;
          counts.unavailable += 1;
          await sleep(100);
        }
      }
    };

    const handle = async (worker: string, task: LeasedTask) => {
      const roll = Math.random();
      const lease = { taskId: task.id, leaseToken: task.leaseToken };
      if (roll < 0.03) {
        counts.abandoned += 1; // never touched again: the lease expires
      } else if (roll < 0.08) {
        if ((await withLease('oms.task.release', lease)) !== 'lost') counts.released += 1;
      } else if (roll < 0.18) {
        const result = await withLease('oms.task.fail', { ...lease, error: { message: 'try again', code: 'FLAKY' }, retryable: true });
        if (result !== 'lost') counts.failed += 1;
      } else {
        const result = await withLease('oms.task.complete', { ...lease, output: { worker, attempt: task.attempt } });
        if (result === 'lost') return;
        counts.completed += 1;
        if (result.status !== 'completed') unexpected.push(`complete of ${task.id} answered ${result.status}`);
        if (acked.has(task.id)) doubleAcks.push(`${task.id}: ${acked.get(task.id)!.worker} and ${worker}`);
        else acked.set(task.id, { worker, attempt: task.attempt });
      }
    };

    const runWorker = async (worker: string) => {
      while (!done) {
        let tasks: LeasedTask[];
        try {
          const max = 1 + Math.floor(Math.random() * 5);
          tasks = (await call('oms.task.lease', { pool: POOL, worker, max, waitSeconds: 1 })).tasks;
        } catch (error) {
          if (codeOf(error) !== 'UNAVAILABLE') throw error;
          counts.unavailable += 1;
          await sleep(100);
          continue;
        }
        counts.leased += tasks.length;
        for (const task of tasks) {
          try {
            await handle(worker, task);
          } catch (error) {
            if (done) return;
            unexpected.push(`${worker} ${task.id}: ${error instanceof DomainError ? error.code : ''} ${(error as Error).message}`);
          }
        }
      }
    };

    const workers = Array.from({ length: WORKERS }, (_, i) => runWorker(`w${i + 1}`));

    // Midway, SIGKILL one OMS replica; start it again a moment later, all while workers work.
    let crashed = false;
    const chaos = (async () => {
      while (!done && acked.size < N * 0.4) await sleep(50);
      if (done) return;
      await stack.services.oms.kill();
      crashed = true;
      await sleep(1500);
      await stack.services.oms.start();
    })();

    const ids: string[] = new Array(N);
    try {
      await inParallel(
        Array.from({ length: N }, (_, i) => i),
        CREATE_IN_FLIGHT,
        async (i) => {
          for (let attempt = 1; ; attempt += 1) {
            try {
              ids[i] = (await manager.requests.create({ plan: PLAN, payload: { n: i } }, { idempotencyKey: `conc-${i}` })).id;
              return;
            } catch (error) {
              if (attempt >= 5 || codeOf(error) !== 'UNAVAILABLE') throw error;
              await sleep(200);
            }
          }
        },
      );
      const created = Date.now();
      process.stderr.write(`oms-concurrency: created ${N} requests in ${created - started} ms\n`);

      // Until no request is running (the ledger decides the rest).
      const deadline = Date.now() + 200_000;
      for (;;) {
        const running = await manager.requests.list({ status: 'running', limit: 1 });
        if (running.items.length === 0 && crashed) break;
        if (Date.now() > deadline) throw new Error(`requests still running; workers saw ${JSON.stringify(counts)}, ${acked.size} acked`);
        await sleep(500);
      }
      process.stderr.write(`oms-concurrency: all settled at ${Date.now() - started} ms; ${JSON.stringify(counts)}\n`);
    } finally {
      done = true;
      await Promise.all([...workers, chaos]);
    }

    expect(unexpected).toEqual([]);
    expect(doubleAcks).toEqual([]);
    expect(crashed).toBe(true);

    // The ledger of every request. It is fed from the event stream after the fact, so a request's
    // ledger is read again until it is complete (request completed, every lease opened and closed).
    const completionsByTask = new Map<string, LedgerEntryView[]>();
    const problems: string[] = [];
    const stats = { seqInversions: 0 };
    const ledgerDeadline = Date.now() + 60_000;
    await inParallel(ids, READ_IN_FLIGHT, async (id) => {
      let history: LedgerEntryView[] = [];
      let leases = new Map<string, TaskLeases>();
      for (;;) {
        history = [];
        for await (const entry of manager.requests.historyAll(id, { limit: 500 })) history.push(entry);
        leases = leasesOf(history);
        const settled = history.some((e) => e.type === 'act.request.completed') && [...leases.values()].every((task) => task.leases.every((lease) => lease.openAt !== undefined && lease.closedAt !== undefined));
        if (settled || Date.now() > ledgerDeadline) break;
        await sleep(250);
      }
      if (history.filter((e) => e.type === 'act.request.completed').length !== 1) problems.push(`${id}: not completed exactly once in its ledger`);
      if (leases.size !== 1) problems.push(`${id}: ${leases.size} tasks in the ledger of a one-step plan`);
      for (const [taskId, task] of leases) {
        completionsByTask.set(taskId, [...(completionsByTask.get(taskId) ?? []), ...task.completions]);
        problems.push(...checkLeases(task, stats).map((problem) => `${id}: task ${taskId}: ${problem}`));
      }
    });
    process.stderr.write(`oms-concurrency: ledgers read at ${Date.now() - started} ms; ${stats.seqInversions} task(s) with a lease granted before the previous one's end in ledger seq order\n`);
    expect(problems.slice(0, 20)).toEqual([]);
    // The OMS replicas relay one at a time, in outbox order, and one ACT appends in stream order:
    // the ledger's own order shows no lease granted before the previous one ended, crash included.
    expect(stats.seqInversions).toBe(0);

    // Exactly one completion per task, one task per request, and nothing lost.
    expect(completionsByTask.size).toBe(N);
    const doubles = [...completionsByTask].filter(([, entries]) => entries.length !== 1).map(([taskId]) => taskId);
    expect(doubles).toEqual([]);

    // Every complete a worker saw acknowledged is the one in the ledger.
    const missing: string[] = [];
    for (const [taskId, ack] of acked) {
      const entry = completionsByTask.get(taskId)?.[0];
      if (!entry || entry.data.worker !== ack.worker || entry.data.attempt !== ack.attempt) {
        missing.push(`${taskId}: acked to ${ack.worker} attempt ${ack.attempt}, ledger has ${JSON.stringify(entry?.data ?? null)}`);
      }
    }
    expect(missing.slice(0, 20)).toEqual([]);

    // The hash chains of a sample verify.
    const sample = [...ids].sort(() => Math.random() - 0.5).slice(0, 50);
    await inParallel(sample, READ_IN_FLIGHT, async (id) => {
      await expect(manager.requests.verify(id)).resolves.toMatchObject({ valid: true });
    });
    process.stderr.write(`oms-concurrency: done in ${Date.now() - started} ms\n`);
  }, 290_000);
});
