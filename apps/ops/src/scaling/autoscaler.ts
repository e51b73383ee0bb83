import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DEFAULT_PAGE_SIZE, systemActor, type AutoscalePolicy, type ListScalingDecisionsQuery, type Page, type PoolView, type ScalingDecisionView, type ScaleTarget } from '@hms/contracts';
import { CLOCK, decodeTimeIdCursor, encodeTimeIdCursor, InjectLogger, pageThatFits, PeriodicJob, RpcClient, type BackgroundJob, type Clock } from '@hms/platform';
import type { Logger } from 'pino';
import { DataSource, type EntityManager } from 'typeorm';
import { OpsConfig } from '../ops.config';
import { deploymentScalerFor, type DeploymentScaler } from './kubernetes-scale';
import { decideReplicas } from './scaling-policy';

/** Held for one evaluation round, so that of several OPS replicas one decides (and writes to Kubernetes) at a time. */
const SCALING_LOCK = 0x0b5_5ca1e;

interface PoolScalingRow {
  pool: string;
  desired: number;
  desired_since: Date;
  current: number | null;
  held: boolean;
  error: string | null;
}

interface DecisionRow {
  id: string;
  pool: string;
  at: Date;
  queued: number;
  current: number | null;
  desired: number;
  reason: string;
  applied: boolean;
}

type AutoscaledPool = PoolView & { autoscale: AutoscalePolicy };

function toDecisionView(row: DecisionRow): ScalingDecisionView {
  return { id: row.id, pool: row.pool, at: row.at.toISOString(), queued: row.queued, current: row.current, desired: row.desired, reason: row.reason, applied: row.applied };
}

/**
 * Decides, every OPS_SCALING_INTERVAL_MS, how many replicas each pool with an `autoscale` policy
 * should have (scaling-policy.ts), from the queue depth OPS keeps from OMS's events, and writes
 * it to the pool's target Deployment when it has one. A decision is logged when its outcome
 * differs from the pool's previous one, so the log is the history of changes, not of ticks.
 */
@Injectable()
export class Autoscaler implements BackgroundJob {
  private readonly job: PeriodicJob;
  /** Set up at the first round (the Kubernetes client loads then); a configuration it cannot use is each decision's error. */
  private scaler?: Promise<DeploymentScaler | string | null>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly rpc: RpcClient,
    private readonly config: OpsConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @InjectLogger() private readonly logger: Logger,
  ) {
    this.job = new PeriodicJob(
      'autoscaling',
      config.OPS_SCALING_INTERVAL_MS,
      async () => {
        await this.evaluate();
        return { full: false };
      },
      logger,
    );
  }

  start(): void {
    this.job.start();
  }

  stop(): Promise<void> {
    return this.job.stop();
  }

  private deploymentScaler(): Promise<DeploymentScaler | string | null> {
    this.scaler ??= deploymentScalerFor(this.config).then(
      (found) => {
        this.logger.info({ kubernetes: found?.describe ?? null }, found ? 'scaling decisions are applied through the Kubernetes API' : 'no Kubernetes API: scaling decisions are recorded, not applied');
        return found?.scaler ?? null;
      },
      (error: Error) => {
        this.logger.error({ err: error }, 'the Kubernetes API settings cannot be used; scaling decisions are recorded, not applied');
        return `the Kubernetes API settings cannot be used: ${error.message}`;
      },
    );
    return this.scaler;
  }

  /** One round over every autoscaled pool, unless another replica holds this round. */
  async evaluate(): Promise<void> {
    let pools: AutoscaledPool[];
    try {
      const { items } = await this.rpc.call('oms.pool.list', {}, { actor: systemActor('ops'), timeoutMs: 2000 });
      pools = items.filter((pool): pool is AutoscaledPool => pool.autoscale !== null);
    } catch (error) {
      this.logger.warn({ err: error }, 'could not read the pools from OMS; scaling waits for the next round');
      return;
    }
    await this.dataSource.transaction(async (tx) => {
      const [{ locked }] = (await tx.query(`SELECT pg_try_advisory_xact_lock($1) AS "locked"`, [SCALING_LOCK])) as Array<{ locked: boolean }>;
      if (!locked) return;
      const names = pools.map((pool) => pool.pool);
      // A pool whose policy went away no longer has a desired replica count.
      await tx.query(`DELETE FROM "ops"."pool_scaling" WHERE "pool" <> ALL($1::text[])`, [names]);
      if (pools.length === 0) return;
      const queued = new Map(
        ((await tx.query(`SELECT "pool", "queued"::int AS "queued" FROM "ops"."pool_counts" WHERE "pool" = ANY($1::text[])`, [names])) as Array<{ pool: string; queued: number }>).map((row) => [
          row.pool,
          row.queued,
        ]),
      );
      const standing = new Map(((await tx.query(`SELECT * FROM "ops"."pool_scaling" WHERE "pool" = ANY($1::text[])`, [names])) as PoolScalingRow[]).map((row) => [row.pool, row]));
      for (const pool of pools) await this.evaluatePool(tx, pool, queued.get(pool.pool) ?? 0, standing.get(pool.pool) ?? null);
    });
  }

  private async evaluatePool(tx: EntityManager, pool: AutoscaledPool, queued: number, previous: PoolScalingRow | null): Promise<void> {
    const now = this.clock.now();
    const decision = decideReplicas({ queued, policy: pool.autoscale, previous: previous && { desired: previous.desired, desiredSince: previous.desired_since }, now });
    const target = pool.autoscale.target;
    const { current, applied, error } = target ? await this.apply(target, decision.desired) : { current: null, applied: false, error: null };
    const reason = [decision.reason, applied ? `applied to ${target!.namespace}/${target!.deployment} (had ${current})` : null, error ? `not applied: ${error}` : null].filter(Boolean).join('; ');
    // After a successful write the Deployment has `desired`: the next round's read will say so, and is no change.
    const settled = applied ? decision.desired : current;
    const desiredSince = previous && previous.desired === decision.desired ? previous.desired_since : now;
    await tx.query(
      `INSERT INTO "ops"."pool_scaling" ("pool", "desired", "desired_since", "current", "held", "error", "evaluated_at") VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT ("pool") DO UPDATE SET "desired" = EXCLUDED."desired", "desired_since" = EXCLUDED."desired_since", "current" = EXCLUDED."current",
         "held" = EXCLUDED."held", "error" = EXCLUDED."error", "evaluated_at" = EXCLUDED."evaluated_at"`,
      [pool.pool, decision.desired, desiredSince, settled, decision.held, error, now],
    );
    const changed = !previous || previous.desired !== decision.desired || previous.current !== current || previous.held !== decision.held || previous.error !== error || applied;
    if (!changed) return;
    await tx.query(
      `INSERT INTO "ops"."scaling_decisions" ("id", "pool", "at", "queued", "current", "desired", "reason", "applied") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [randomUUID(), pool.pool, now, queued, current, decision.desired, reason, applied],
    );
    if (applied || error) this.logger.info({ pool: pool.pool, queued, current, desired: decision.desired, applied, error }, 'scaling decision');
  }

  /** Reads the Deployment's replicas and writes `desired` when they differ (also undoing a change made by hand). */
  private async apply(target: ScaleTarget, desired: number): Promise<{ current: number | null; applied: boolean; error: string | null }> {
    const scaler = await this.deploymentScaler();
    if (scaler === null) return { current: null, applied: false, error: 'no Kubernetes API (not in a pod, and OPS_KUBECONFIG unset)' };
    if (typeof scaler === 'string') return { current: null, applied: false, error: scaler };
    let current: number | null = null;
    try {
      current = await scaler.replicas(target);
      if (current === desired) return { current, applied: false, error: null };
      await scaler.scale(target, desired);
      return { current, applied: true, error: null };
    } catch (error) {
      return { current, applied: false, error: (error as Error).message };
    }
  }

  async list(query: ListScalingDecisionsQuery, maxPayload: number): Promise<Page<ScalingDecisionView>> {
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const cursor = query.cursor !== undefined ? decodeTimeIdCursor(query.cursor) : null;
    const rows = (await this.dataSource.query(
      `SELECT "id", "pool", "at", "queued", "current", "desired", "reason", "applied" FROM "ops"."scaling_decisions"
       WHERE ($1::text IS NULL OR "pool" = $1) AND ($2::timestamptz IS NULL OR ("at", "id") < ($2, $3::uuid))
       ORDER BY "at" DESC, "id" DESC
       LIMIT $4`,
      [query.pool ?? null, cursor?.at ?? null, cursor?.id ?? null, limit + 1],
    )) as DecisionRow[];
    return pageThatFits(rows, limit, toDecisionView, (last) => encodeTimeIdCursor({ at: last.at, id: last.id }), maxPayload);
  }
}
