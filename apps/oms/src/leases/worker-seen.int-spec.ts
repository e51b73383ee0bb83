import { randomUUID } from 'node:crypto';
import { DataSource, type EntityManager } from 'typeorm';
import { OmsConfig } from '../oms.config';
import { OmsHarness } from '../testing/oms-harness';
import { lastSeenResolutionMs } from '../workers/liveness-window';
import { acquireLeases, type AcquiredLeaseRow } from './lease-acquire.sql';
import { completeLeases } from './lease-complete.sql';
import { reclaimLeasesOfGoneWorkers } from './lease-reclaim.sql';

jest.setTimeout(60_000);

/*
 * The lease and complete statements leave a worker row seen within lastSeenResolutionMs as it
 * is, and the gone-worker check allows for it. The statements take the time as an argument, so
 * the clock is injected here: a time an hour ahead, which the harness's own liveness job (on
 * the system clock) never reaches, so it leaves these workers alone.
 */
describe('OMS worker last seen on the lease and complete path', () => {
  let oms: OmsHarness;
  let db: EntityManager;
  let resolution: number;
  let windowMs: number;
  const name = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;
  const at = (start: Date, ms: number) => new Date(start.getTime() + ms);

  beforeAll(async () => {
    oms = await OmsHarness.start('oms_worker_seen');
    db = oms.replicas[0]!.get(DataSource).manager;
    const defaultSeconds = oms.replicas[0]!.get(OmsConfig).OMS_WORKER_LIVENESS_SECONDS;
    resolution = lastSeenResolutionMs(defaultSeconds);
    windowMs = defaultSeconds * 1000;
  });

  afterAll(async () => {
    await oms?.close();
  });

  const lease = async (pool: string, worker: string, now: Date): Promise<AcquiredLeaseRow> => {
    const { rows } = await acquireLeases(db, {
      pool,
      worker,
      workerTags: null,
      max: 1,
      leaseSeconds: 3600,
      now,
      leaseTokens: [randomUUID()],
      leaseIds: [randomUUID()],
      actor: worker,
      traceHeaders: null,
      replyBudgetBytes: 1_000_000,
      seenResolutionMs: resolution,
    });
    expect(rows).toHaveLength(1);
    return rows[0]!;
  };

  const complete = async (task: AcquiredLeaseRow, now: Date) => {
    const outcome = { action: 'complete' as const, result: { id: task.id, status: 'completed' as const } };
    const done = await completeLeases(db, [{ taskId: task.id, leaseToken: task.lease_token, outputJson: '{}', outcome, holder: null, actor: 'w', traceHeaders: null }], now, resolution);
    expect(done.map((row) => row.id)).toEqual([task.id]);
  };

  /** The worker's row: its last_seen_at, and which version of the row it is (a rewrite makes a new one). */
  const workerRow = async (worker: string) => {
    const [row] = await oms.sql<{ version: string; last_seen_at: Date }>(`SELECT xmin::text || ctid::text AS version, last_seen_at FROM oms.workers WHERE id = $1`, [worker]);
    return row!;
  };

  it('rewrites the worker row only when its last_seen_at is older than the resolution', async () => {
    const [pool, worker] = [name('seen'), name('bot')];
    for (let i = 0; i < 4; i++) await oms.queueTask({ pool });
    const start = new Date(Math.floor(Date.now() / 1000) * 1000 + 3_600_000);

    const first = await lease(pool, worker, start);
    const created = await workerRow(worker);
    expect(created.last_seen_at).toEqual(start);

    // Within the resolution: neither the lease nor the complete writes the row.
    const second = await lease(pool, worker, at(start, resolution - 1));
    await complete(first, at(start, resolution - 1));
    expect(await workerRow(worker)).toEqual(created);

    // Older than that: each moves it, to its own time.
    const third = await lease(pool, worker, at(start, resolution + 1));
    const afterLease = await workerRow(worker);
    expect(afterLease.last_seen_at).toEqual(at(start, resolution + 1));
    expect(afterLease.version).not.toBe(created.version);
    await complete(second, at(start, 2 * resolution + 2));
    expect((await workerRow(worker)).last_seen_at).toEqual(at(start, 2 * resolution + 2));
    await complete(third, at(start, 2 * resolution + 2));
  });

  it('declares a worker gone only after a whole window of silence since its latest call, not its stored time', async () => {
    const [pool, worker] = [name('gone'), name('bot')];
    await oms.queueTask({ pool });
    await oms.queueTask({ pool });
    const start = new Date(Math.floor(Date.now() / 1000) * 1000 + 7_200_000);
    await lease(pool, worker, start);
    // Its latest call, not written: last_seen_at stays at `start`.
    const latestCall = at(start, resolution - 1);
    await lease(pool, worker, latestCall);
    expect((await workerRow(worker)).last_seen_at).toEqual(start);

    const reclaimed = async (now: Date) =>
      (await reclaimLeasesOfGoneWorkers(db, now, windowMs / 1000)).filter((row) => row.holder === worker).map((row) => row.status);
    // A window after `start` but not after its latest call: still online, its leases kept.
    expect(await reclaimed(at(latestCall, windowMs - 1))).toEqual([]);
    // A window after its latest call, allowing for the resolution: gone.
    expect(await reclaimed(at(start, windowMs + resolution + 1))).toEqual(['queued', 'queued']);
  });
});
