import { Inject, Injectable } from '@nestjs/common';
import { DomainError, type PlanDefinition, type PlanSummary, type PlanView, type RegisterPlanResult } from '@hms/contracts';
import { CLOCK, EventOutbox, preparedQuery, type Clock, type Emit } from '@hms/platform';
import { DataSource, type EntityManager, type QueryDeepPartialEntity } from 'typeorm';
import { contentHash } from '../common/canonical-json';
import { PlanEntity } from './plan.entity';
import { validatePlan } from './plan.validator';

/** A plan version as a create uses it. */
export type ResolvedPlan = Pick<PlanEntity, 'id' | 'version' | 'definition'>;

function toView(plan: PlanEntity): PlanView {
  return {
    id: plan.id,
    version: plan.version,
    title: plan.title,
    definition: plan.definition,
    contentHash: plan.contentHash,
    createdAt: plan.createdAt.toISOString(),
    createdBy: plan.createdBy,
  };
}

/** Plans: register (validate, version by content), read, list. */
@Injectable()
export class PlansService {
  /** Plan versions are immutable, so a definition once read never changes. */
  private readonly definitions = new Map<string, PlanDefinition>();
  /**
   * The latest version of each plan as last read from the database. It can be stale (another
   * replica registered a newer one), so a create that uses it checks it in its insert (see
   * insertRequestsWithSteps' `latestPlan`) and resolves again when it was.
   */
  private readonly latestVersions = new Map<string, number>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly outbox: EventOutbox,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /**
   * Registers a plan given as a parsed value. Identical content (by canonical hash) to the latest
   * version returns that version; anything else becomes version n+1. Comparing with the latest
   * only means re-registering an older definition makes it the latest again, as an author expects.
   */
  async register(source: unknown, actor: string): Promise<RegisterPlanResult> {
    return this.outbox.transaction((tx, emit) => this.registerIn(tx, emit, source, actor));
  }

  /** The body of `register`, inside the caller's transaction (a request with its plan inline). */
  async registerIn(tx: EntityManager, emit: Emit, source: unknown, actor: string): Promise<RegisterPlanResult> {
    const validation = validatePlan(source);
    if (!validation.ok) {
      const count = validation.problems.length;
      throw new DomainError('VALIDATION_FAILED', `The plan is not valid (${count} problem${count === 1 ? '' : 's'})`, validation.problems);
    }
    const definition = validation.plan;
    const hash = contentHash(definition);
    // Registrations of one plan id queue here, so two replicas cannot both take version n+1.
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))', ['act.plans', definition.id]);
    const latest = await this.latest(tx, definition.id);
    if (latest?.contentHash === hash) return { id: latest.id, version: latest.version, created: false };
    const version = (latest?.version ?? 0) + 1;
    await tx.getRepository(PlanEntity).insert({
      id: definition.id,
      version,
      title: definition.title ?? null,
      definition,
      contentHash: hash,
      createdAt: this.clock.now(),
      createdBy: actor,
    } as QueryDeepPartialEntity<PlanEntity>);
    emit('act.plan.registered', null, { plan: definition.id, version }, actor);
    // This replica's next create asks the database rather than try the old version first
    // (forgetting is right whether or not this transaction commits).
    this.forgetLatest(definition.id);
    return { id: definition.id, version, created: true };
  }

  async get(id: string, version?: number): Promise<PlanView> {
    const plan = await this.find(this.dataSource.manager, id, version);
    if (!plan) throw this.notFound(id, version);
    return toView(plan);
  }

  /** The latest version of every plan, by id. */
  async list(): Promise<PlanSummary[]> {
    const rows: Array<{ id: string; version: number; title: string | null; created_at: Date }> = await this.dataSource.query(
      `SELECT DISTINCT ON ("id") "id", "version", "title", "created_at" FROM "act"."plans" ORDER BY "id", "version" DESC`,
    );
    return rows.map((row) => ({ id: row.id, latestVersion: row.version, title: row.title, updatedAt: row.created_at.toISOString() }));
  }

  /** A plan version, or the latest when `version` is absent. */
  async find(tx: EntityManager, id: string, version?: number): Promise<PlanEntity | null> {
    if (version === undefined) return this.latest(tx, id);
    return tx.getRepository(PlanEntity).findOne({ where: { id, version } });
  }

  /**
   * The version a create names (the latest when absent) with its definition, or null when there
   * is none. Versions are immutable, so only "which is latest" is asked of the database each
   * time (one prepared index lookup); a definition is read and parsed once per process.
   */
  async resolve(tx: EntityManager, id: string, version?: number): Promise<ResolvedPlan | null> {
    let resolved = version;
    if (resolved === undefined || !this.definitions.has(`${id}@${resolved}`)) {
      const rows = await preparedQuery<{ version: number }>(
        tx,
        'act_plan_version',
        `SELECT "version" FROM "act"."plans" WHERE "id" = $1 AND ($2::int IS NULL OR "version" = $2) ORDER BY "version" DESC LIMIT 1`,
        [id, version ?? null],
      );
      if (rows.length === 0) return null;
      resolved = rows[0]!.version;
      if (version === undefined) this.latestVersions.set(id, resolved);
    }
    return { id, version: resolved, definition: await this.definitionOf(tx, id, resolved) };
  }

  /**
   * The plan's latest version as last resolved in this process, with its definition, without a
   * round trip; undefined when it has not been resolved yet. Possibly stale: only for a caller
   * that checks it where it writes (insertRequestsWithSteps' `latestPlan`) and calls
   * {@link forgetLatest} when that check fails.
   */
  latestKnown(id: string): ResolvedPlan | undefined {
    const version = this.latestVersions.get(id);
    const definition = version === undefined ? undefined : this.definitions.get(`${id}@${version}`);
    return definition && { id, version: version!, definition };
  }

  /** A newer version exists than {@link latestKnown} said: the next resolve asks the database. */
  forgetLatest(id: string): void {
    this.latestVersions.delete(id);
  }

  /** The definition of a version that is known to exist (a request refers to it). */
  async definitionOf(tx: EntityManager, id: string, version: number): Promise<PlanDefinition> {
    const key = `${id}@${version}`;
    const cached = this.definitions.get(key);
    if (cached) return cached;
    const plan = await this.find(tx, id, version);
    if (!plan) throw this.notFound(id, version);
    this.definitions.set(key, plan.definition);
    return plan.definition;
  }

  notFound(id: string, version?: number): DomainError {
    return version === undefined ? DomainError.notFound('Plan', id) : new DomainError('NOT_FOUND', `Plan '${id}' has no version ${version}`);
  }

  private latest(tx: EntityManager, id: string): Promise<PlanEntity | null> {
    return tx.getRepository(PlanEntity).findOne({ where: { id }, order: { version: 'DESC' } });
  }
}
