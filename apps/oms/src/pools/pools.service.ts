import { Inject, Injectable } from '@nestjs/common';
import { DomainError, POOL_DEFAULTS, type Actor, type PoolView, type SetPoolSlaCommand, type UpsertPoolCommand } from '@hms/contracts';
import { CLOCK, EventOutbox, preparedQuery, type Clock, type Emit } from '@hms/platform';
import { DataSource, type EntityManager } from 'typeorm';
import { queryRows } from '../database/query-rows';
import { OmsConfig } from '../oms.config';
import { POOL_COLUMNS, toPoolView, type PoolRow } from './pool.view';

/** Pools: created explicitly (PUT) or on first use with {@link POOL_DEFAULTS}. */
@Injectable()
export class PoolsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly outbox: EventOutbox,
    private readonly config: OmsConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** PUT semantics: the pool ends up with exactly the given settings (defaults for the rest). */
  async upsert(command: UpsertPoolCommand, actor: Actor): Promise<PoolView> {
    return this.outbox.transaction(async (tx, emit) => {
      const now = this.clock.now();
      const [row] = await queryRows<PoolRow>(
        tx,
        `INSERT INTO oms.pools AS p (name, kind, lease_seconds, sla_minutes, max_attempts, autoscale, escalation, worker_liveness_seconds, max_lease_seconds, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $9, $10, $8, $8)
         ON CONFLICT (name) DO UPDATE SET
           kind = EXCLUDED.kind, lease_seconds = EXCLUDED.lease_seconds, sla_minutes = EXCLUDED.sla_minutes,
           max_attempts = EXCLUDED.max_attempts, autoscale = EXCLUDED.autoscale, escalation = EXCLUDED.escalation,
           worker_liveness_seconds = EXCLUDED.worker_liveness_seconds, max_lease_seconds = EXCLUDED.max_lease_seconds, updated_at = EXCLUDED.updated_at
         RETURNING ${POOL_COLUMNS}`,
        [
          command.pool,
          command.kind,
          command.leaseSeconds ?? POOL_DEFAULTS.leaseSeconds,
          command.slaMinutes ?? null,
          command.maxAttempts ?? POOL_DEFAULTS.maxAttempts,
          command.autoscale ? JSON.stringify(command.autoscale) : null,
          command.escalation ? JSON.stringify(command.escalation) : null,
          now,
          command.workerLivenessSeconds ?? null,
          command.maxLeaseSeconds ?? null,
        ],
      );
      emit('oms.pool.updated', null, { pool: row.name }, actor.id);
      return this.view(row);
    });
  }

  /** Sets the SLA that tasks queued from now on inherit (creating the pool if it is new). */
  async setSla(command: SetPoolSlaCommand, actor: Actor): Promise<PoolView> {
    return this.outbox.transaction(async (tx, emit) => {
      const now = this.clock.now();
      const [row] = await queryRows<PoolRow>(
        tx,
        `INSERT INTO oms.pools AS p (name, kind, lease_seconds, sla_minutes, max_attempts, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6)
         ON CONFLICT (name) DO UPDATE SET sla_minutes = EXCLUDED.sla_minutes, updated_at = EXCLUDED.updated_at
         RETURNING ${POOL_COLUMNS}`,
        [command.pool, POOL_DEFAULTS.kind, POOL_DEFAULTS.leaseSeconds, command.minutes, POOL_DEFAULTS.maxAttempts, now],
      );
      emit('oms.pool.updated', null, { pool: row.name }, actor.id);
      return this.view(row);
    });
  }

  async get(pool: string): Promise<PoolView> {
    const [row] = await queryRows<PoolRow>(this.dataSource.manager, `SELECT ${POOL_COLUMNS} FROM oms.pools WHERE name = $1`, [pool]);
    if (!row) throw DomainError.notFound('Pool', pool);
    return this.view(row);
  }

  async list(): Promise<PoolView[]> {
    const rows = await queryRows<PoolRow>(this.dataSource.manager, `SELECT ${POOL_COLUMNS} FROM oms.pools ORDER BY name`);
    return rows.map((row) => this.view(row));
  }

  /**
   * The pool a task is being queued in, created with the defaults on first use. Reads first,
   * because the pool nearly always exists and an upsert would rewrite (and lock) its row for
   * every task. Two first uses racing: the loser's insert does nothing and it reads the
   * winner's row in a new statement (new snapshot), after the winner committed.
   */
  async resolveForQueueing(tx: EntityManager, pool: string, emit: Emit, actorId: string): Promise<PoolRow> {
    const select = `SELECT ${POOL_COLUMNS} FROM oms.pools WHERE name = $1`;
    // Prepared: this runs for every task queued, on the way from step.ready to a waiting worker.
    const [existing] = await preparedQuery<PoolRow>(tx, 'oms_pool_for_queueing', select, [pool]);
    if (existing) return existing;
    const now = this.clock.now();
    const [created] = await queryRows<PoolRow>(
      tx,
      `INSERT INTO oms.pools (name, kind, lease_seconds, sla_minutes, max_attempts, created_at, updated_at)
       VALUES ($1, $2, $3, NULL, $4, $5, $5)
       ON CONFLICT (name) DO NOTHING
       RETURNING ${POOL_COLUMNS}`,
      [pool, POOL_DEFAULTS.kind, POOL_DEFAULTS.leaseSeconds, POOL_DEFAULTS.maxAttempts, now],
    );
    if (created) {
      emit('oms.pool.updated', null, { pool }, actorId);
      return created;
    }
    const [raced] = await queryRows<PoolRow>(tx, select, [pool]);
    if (!raced) throw new DomainError('CONFLICT', `Pool '${pool}' could not be created`);
    return raced;
  }

  private view(row: PoolRow): PoolView {
    return toPoolView(row, this.config.OMS_WORKER_LIVENESS_SECONDS);
  }
}
