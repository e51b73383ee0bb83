import { Inject, Injectable } from '@nestjs/common';
import {
  CreateRequestCommand,
  DEFAULT_PAGE_SIZE,
  DomainError,
  type CreateRequestOutcome,
  type CreateRequestResult,
  type CreateRequestsCommand,
  type CreateRequestsResult,
  type ErrorCode,
  type ErrorDetail,
  type ListRequestsQuery,
  type Page,
  type RequestSummary,
  type RequestView,
  isUuid,
} from '@hms/contracts';
import {
  assertRoomFor,
  CLOCK,
  pageThatFits,
  payloadTooLarge,
  decodeTimeIdCursor,
  encodeTimeIdCursor,
  EventOutbox,
  fitsIn,
  GroupCommit,
  validateMessage,
  type Clock,
  type Emit,
  type IdGenerator,
  type PendingEvent,
  type Settled,
} from '@hms/platform';
import { DataSource, type EntityManager } from 'typeorm';
import { ID_GENERATOR } from '../act.tokens';
import { contentHash } from '../common/canonical-json';
import { inlinePlanOf, underPlan } from '../plans/plan-source';
import { PlansService, type ResolvedPlan } from '../plans/plans.service';
import { RequestStepEntity } from './request-step.entity';
import { RequestEntity } from './request.entity';
import { isTerminalRequest } from './request.state';
import { toRequestSummary, toRequestView } from './request.views';
import { fanOutCounts } from './fan-out.repository';
import { findRequest, findRequestByIdempotencyKey, findRequestsByIdempotencyKeys, insertRequestsWithSteps, listRequests, loadSteps, lockRequest } from './requests.repository';
import { WorkflowService } from './workflow.service';
import { createdFirst } from './event-order';
import { createBatchSize } from './request-metrics';
import { scheduleReference } from '../schedules/fire-times';
import { insertScheduleFire } from '../schedules/schedules.repository';

/** A create command whose plan is named (an inline plan has been registered by then). */
type NamedPlanCommand = Omit<CreateRequestCommand, 'plan'> & { plan: string };

/** NATS's limit and the size of the message a command came in. */
type Wire = { requestBytes: number; maxPayload: number };

/** The body that an idempotency key stands for, with defaults filled in so omitted and default values match. */
function requestHashOf(command: NamedPlanCommand): string {
  return contentHash({
    plan: command.plan,
    version: command.version ?? null,
    payload: command.payload ?? {},
    reference: command.reference ?? null,
    priority: command.priority ?? 0,
    slaMinutes: command.slaMinutes ?? null,
  });
}

/** A create command with the idempotency key it carries and the hash of the body the key stands for. */
interface ParsedCreate {
  command: NamedPlanCommand;
  key: string | null;
  hash: string | null;
}

function parsedCreate(command: NamedPlanCommand): ParsedCreate {
  const key = command.idempotencyKey ?? null;
  return { command, key, hash: key ? requestHashOf(command) : null };
}

/** A new request decided in memory: its rows, and its events (emitted once the rows are stored). */
interface PlannedCreate {
  request: RequestEntity;
  steps: RequestStepEntity[];
  emitEvents: (emit: Emit) => void;
  events: PendingEvent[];
}

/**
 * The answer to a create whose key an earlier request holds: that request when the bodies match,
 * IDEMPOTENCY_MISMATCH when they differ; null when no request holds the key.
 */
function repeatOf(existing: RequestEntity | null | undefined, item: Pick<ParsedCreate, 'key' | 'hash'>): CreateRequestResult | null {
  if (!existing) return null;
  if (existing.requestHash !== item.hash) {
    throw new DomainError('IDEMPOTENCY_MISMATCH', `Idempotency key '${item.key}' was already used with a different request body`);
  }
  return { request: toRequestSummary(existing), created: false };
}

/** Keys in one order, requests without a key last. */
function compareKeys(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return a < b ? -1 : 1;
}

/**
 * A single create's rows and events on their way into a statement shared with the creates that
 * arrived with it; `latestPlan` when its version is the latest this process knew (see
 * insertRequestsWithSteps).
 */
interface StoredCreate {
  request: RequestEntity;
  steps: RequestStepEntity[];
  events: PendingEvent[];
  latestPlan: boolean;
}

/** Most single creates in one statement: bounds its size and the wait of the last caller. */
const CREATE_BATCH_MAX = 200;

/**
 * Most characters of event JSON in one statement (a payload travels in its step's
 * `act.step.ready`): creates with large payloads share a statement with fewer others, so one
 * statement's parameters stay far below jsonb's 256 MiB and a few MiB of memory.
 */
const CREATE_BATCH_MAX_EVENT_CHARS = 4 * 1024 * 1024;

/** What a batch answer adds around its results: the RPC envelope and headers. */
const BATCH_ANSWER_ENVELOPE_BYTES = 4 * 1024;

/** An item's error as its answer; detail paths are prefixed with the item's place in the batch. */
function itemError(error: unknown, prefix?: string): { code: ErrorCode; message: string; details?: ErrorDetail[] } {
  if (!(error instanceof DomainError)) throw error;
  const details = prefix ? error.details?.map((detail) => ({ path: detail.path ? `${prefix}.${detail.path}` : prefix, message: detail.message })) : error.details;
  return { code: error.code, message: error.message, ...(details ? { details } : {}) };
}

/** Requests: create (and start), read, list, cancel. */
@Injectable()
export class RequestsService {
  private readonly creates = new GroupCommit<StoredCreate, boolean>((batch) => this.storeCreates(batch), {
    maxBatch: CREATE_BATCH_MAX,
    // A repeat under one key must see the first create's commit: never two in one statement.
    keyOf: ({ request }) => (request.idempotencyKey === null ? undefined : JSON.stringify([request.createdBy, request.idempotencyKey])),
    weightOf: ({ events }) => events.reduce((sum, pending) => sum + pending.json.length, 0),
    maxWeight: CREATE_BATCH_MAX_EVENT_CHARS,
  });

  constructor(
    private readonly dataSource: DataSource,
    private readonly outbox: EventOutbox,
    private readonly plans: PlansService,
    private readonly workflow: WorkflowService,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
  ) {}

  /**
   * Creates a request of a plan version and starts it: the request, its steps,
   * `act.request.created` and the first `act.step.ready` events are written by one statement, so
   * they commit together or not at all without a transaction around them. With the plan's latest
   * version known to this process (and checked by that statement) and no earlier request under
   * the key, that statement is the create's only round trip, and creates arriving together share
   * it (group commit, see storeCreates). A plan given inline is registered
   * first, in one transaction with the request. A payload that would leave too little of NATS's
   * `max_payload` for those is PAYLOAD_TOO_LARGE.
   */
  async create(command: CreateRequestCommand, actor: string, wire: Wire): Promise<CreateRequestResult> {
    // The payload travels on in every step's `act.step.ready` and in each lease of its tasks;
    // those are built later, by consumers, where a payload too large to carry could only fail.
    assertRoomFor(command.payload, wire, 'The payload', 'payload');
    const { plan } = command;
    if (typeof plan !== 'string') {
      return this.outbox.transaction(async (tx, emit) =>
        this.createIn(tx, await this.namePlan(tx, emit, command, actor), actor, wire, async (create) => {
          if ((await insertRequestsWithSteps(tx, [create.request], create.steps)).size === 0) return false;
          create.emitEvents(emit);
          return true;
        }),
      );
    }
    return this.createIn(this.dataSource.manager, { ...command, plan }, actor, wire, async (create, latestPlan) => {
      // Emitted here, in the caller's context: each event keeps its own caller's trace.
      const { emit, events } = this.outbox.collector();
      create.emitEvents(emit);
      return this.creates.submit({ request: create.request, steps: create.steps, events, latestPlan });
    });
  }

  /**
   * The single creates that arrived together, in one statement with no transaction around it:
   * each request with its steps and events, or (its key taken, its plan version no longer the
   * latest) nothing of it; each caller hears whether its own request was inserted. Rows in key
   * order, as createMany's, so two replicas' statements sharing keys wait rather than deadlock.
   */
  private async storeCreates(batch: StoredCreate[]): Promise<Array<Settled<boolean>>> {
    createBatchSize.observe(batch.length);
    const byKey = [...batch].sort((a, b) => compareKeys(a.request.idempotencyKey, b.request.idempotencyKey));
    const inserted = await insertRequestsWithSteps(
      this.dataSource.manager,
      byKey.map((create) => create.request),
      byKey.flatMap((create) => create.steps),
      {
        events: { outbox: this.outbox, events: createdFirst(byKey.flatMap((create) => create.events)) },
        latestPlan: new Set(byKey.flatMap((create) => (create.latestPlan ? [create.request.id] : []))),
      },
    );
    if (inserted.size > 0) this.outbox.kick();
    return batch.map((create) => ({ ok: true, value: inserted.has(create.request.id) }));
  }

  /**
   * A plan given inline is registered in the request's transaction (content-versioned like
   * `POST /v1/plans`, so the same workflow sent again is the same version), and the request
   * refers to it by id and version like any other.
   */
  private async namePlan(tx: EntityManager, emit: Emit, command: CreateRequestCommand, actor: string): Promise<NamedPlanCommand> {
    const { plan } = command;
    if (typeof plan === 'string') return { ...command, plan };
    if (command.version !== undefined) {
      throw new DomainError('VALIDATION_FAILED', 'A plan given inline has no version to choose', [{ path: 'version', message: 'must be absent when the plan is given inline' }]);
    }
    const registered = await this.plans.registerIn(tx, emit, inlinePlanOf(plan), actor).catch((error: unknown) => {
      throw underPlan(error);
    });
    return { ...command, plan: registered.id, version: registered.version };
  }

  /**
   * The request of one fire time of a plan's schedule, exactly once across replicas: the
   * `schedule_fires` row (primary key plan + fire time) and the request commit together. A
   * replica inserting the same fire time concurrently waits on the key and then conflicts
   * (ON CONFLICT DO NOTHING), so it creates nothing and answers null.
   */
  async createScheduled(
    fire: { plan: string; version: number; fireAt: Date; payload: Record<string, unknown> },
    actor: string,
  ): Promise<CreateRequestResult | null> {
    return this.outbox.transaction(async (tx, emit) => {
      const requestId = this.ids.next();
      if (!(await insertScheduleFire(tx, fire.plan, fire.fireAt, requestId, this.clock.now()))) return null;
      const command: NamedPlanCommand = { plan: fire.plan, version: fire.version, payload: fire.payload, reference: scheduleReference(fire.plan, fire.fireAt) };
      return this.createIn(
        tx,
        command,
        actor,
        undefined,
        async (create) => {
          if ((await insertRequestsWithSteps(tx, [create.request], create.steps)).size === 0) return false;
          create.emitEvents(emit);
          return true;
        },
        requestId,
      );
    });
  }

  /**
   * Creates up to {@link FixedLimits.requestBatchItems} requests in one transaction, each item
   * decided as its own `create` would be (validation, idempotency key, plan, payload room) and
   * answered in order; a bad item fails alone. Idempotency keys are the caller's, as for a single
   * create. A plan given inline is refused per item (register it with `POST /v1/plans` and name
   * it): a batch writes plans by no path. The rows are written set-based: one statement for
   * the requests with their steps, one for all their events. An answer that could not travel
   * back over NATS is refused (PAYLOAD_TOO_LARGE) before anything commits.
   */
  async createMany(command: CreateRequestsCommand, actor: string, wire: Wire): Promise<CreateRequestsResult> {
    const { results, events } = await this.dataSource.transaction(async (tx) => {
      const results: CreateRequestOutcome[] = new Array(command.items.length);
      const items = command.items.map((item, index) => this.parseItem(item, wire, index, results));
      const keys = [...new Set(items.flatMap((item) => (item?.key ? [item.key] : [])))];
      const earlier = await findRequestsByIdempotencyKeys(tx, actor, keys);
      const planned: Array<{ index: number; create: PlannedCreate }> = [];
      const plans = new Map<string, Promise<ResolvedPlan | null>>();
      for (const [index, item] of items.entries()) {
        if (!item) continue;
        await this.settle(results, index, async () => {
          const repeated = repeatOf(earlier.get(item.key ?? ''), item);
          if (repeated) return repeated;
          const planKey = `${item.command.plan}@${item.command.version ?? ''}`;
          if (!plans.has(planKey)) plans.set(planKey, this.plans.resolve(tx, item.command.plan, item.command.version));
          const plan = await plans.get(planKey)!;
          if (!plan) throw this.plans.notFound(item.command.plan, item.command.version);
          const create = this.plan(plan, item, actor, this.ids.next(), wire);
          const { emit, events } = this.outbox.collector();
          create.emitEvents(emit);
          planned.push({ index, create: { ...create, events } });
          // A later item with the same key is a repeat of this one.
          if (item.key) earlier.set(item.key, create.request);
          return { request: toRequestSummary(create.request), created: true };
        });
      }
      // Rows in key order, so concurrent batches sharing keys take the key locks in one order.
      const byKey = [...planned].sort((a, b) => compareKeys(a.create.request.idempotencyKey, b.create.request.idempotencyKey));
      const inserted = await insertRequestsWithSteps(
        tx,
        byKey.map(({ create }) => create.request),
        byKey.flatMap(({ create }) => create.steps),
      );
      const lost = new Map(planned.filter(({ create }) => !inserted.has(create.request.id)).map(({ create }) => [create.request.id, create.request]));
      if (lost.size > 0) {
        // Lost races with concurrent creates under the same keys: those items, and the later
        // items of this batch that repeated them, are answered with the winners.
        const winners = await findRequestsByIdempotencyKeys(tx, actor, [...lost.values()].map((request) => request.idempotencyKey!));
        for (const [index, result] of results.entries()) {
          const request = result && 'request' in result && result.request ? lost.get(result.request.id) : undefined;
          if (!request) continue;
          await this.settle(results, index, async () => {
            const winner = repeatOf(winners.get(request.idempotencyKey!), { key: request.idempotencyKey, hash: request.requestHash });
            if (winner) return winner;
            throw new DomainError('CONFLICT', 'The request could not be created; try again');
          });
        }
      }
      const kept = planned.filter(({ create }) => inserted.has(create.request.id));
      const events = createdFirst(kept.flatMap(({ create }) => create.events));
      await this.outbox.append(tx, events);
      // Native length checks (fitsIn) on the answer's JSON: a thousand results are 350 KiB.
      const answer = JSON.stringify({ results });
      if (!fitsIn(answer, BATCH_ANSWER_ENVELOPE_BYTES, wire.maxPayload)) {
        throw payloadTooLarge('The answer of this batch', Buffer.byteLength(answer), wire.maxPayload - BATCH_ANSWER_ENVELOPE_BYTES, 'items');
      }
      return { results, events };
    });
    if (events.length > 0) this.outbox.kick();
    return { results };
  }

  /** One item of a batch, validated as a single create is; its error is its answer. */
  private parseItem(item: Record<string, unknown>, wire: Wire, index: number, results: CreateRequestOutcome[]): ParsedCreate | null {
    try {
      const command = validateMessage(CreateRequestCommand, item);
      const { plan } = command;
      if (typeof plan !== 'string') {
        throw new DomainError('VALIDATION_FAILED', 'A batch item names its plan; register an inline plan with POST /v1/plans first', [
          { path: 'plan', message: 'must be a plan id in a batch' },
        ]);
      }
      assertRoomFor(command.payload, wire, 'The payload', 'payload');
      return parsedCreate({ ...command, plan });
    } catch (error) {
      results[index] = { error: itemError(error, `items[${index}]`) };
      return null;
    }
  }

  /** Runs one item's decision; a DomainError becomes its answer, anything else fails the batch. */
  private async settle(results: CreateRequestOutcome[], index: number, decide: () => Promise<CreateRequestOutcome>): Promise<void> {
    try {
      results[index] = await decide();
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      results[index] = { error: itemError(error, `items[${index}]`) };
    }
  }

  /**
   * The body of one create: the request decided in memory and `store`d, which writes it with its
   * events and says whether it was inserted. Written first, the earlier request under the key is
   * read only when nothing was inserted (a repeat, or a race lost to a concurrent create under
   * the same key), or when the create fails (a repeat with another body is IDEMPOTENCY_MISMATCH
   * whatever else is wrong with it). A plan named without a version takes the latest version this
   * process knows, which `store` writes only if it is still the latest (`latestPlan`); if it was
   * not, the plan is resolved again and the create made once more.
   */
  private async createIn(
    db: EntityManager,
    command: NamedPlanCommand,
    actor: string,
    wire: Wire | undefined,
    store: (create: Omit<PlannedCreate, 'events'>, latestPlan: boolean) => Promise<boolean>,
    id: string = this.ids.next(),
  ): Promise<CreateRequestResult> {
    const item = parsedCreate(command);
    const earlier = async () => (item.key ? repeatOf(await findRequestByIdempotencyKey(db, actor, item.key), item) : null);
    let known = command.version === undefined ? this.plans.latestKnown(command.plan) : undefined;
    for (;;) {
      let create: Omit<PlannedCreate, 'events'>;
      try {
        const plan = known ?? (await this.plans.resolve(db, command.plan, command.version));
        if (!plan) throw this.plans.notFound(command.plan, command.version);
        create = this.plan(plan, item, actor, id, wire);
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
        const repeated = await earlier();
        if (repeated) return repeated;
        throw error;
      }
      if (await store(create, known !== undefined)) return { request: toRequestSummary(create.request), created: true };
      const repeated = await earlier();
      if (repeated) return repeated;
      if (known === undefined) throw new DomainError('CONFLICT', 'The request could not be created; try again');
      // The version this process knew is no longer the plan's latest: resolve it again.
      this.plans.forgetLatest(command.plan);
      known = undefined;
    }
  }

  /**
   * A new request of `plan`, decided in memory: the request and its steps as the engine starts
   * them, and the events to emit once they are stored (`act.request.created`, then the first
   * steps' events).
   */
  private plan(plan: ResolvedPlan, item: ParsedCreate, actor: string, id: string, wire: Wire | undefined): Omit<PlannedCreate, 'events'> {
    const { command } = item;
    const definition = plan.definition;
    // A step without `input:` carries the payload a second time, inside its default input.
    if (wire && command.payload && definition.steps.some((step) => step.input === undefined)) {
      assertRoomFor([command.payload, command.payload], wire, "The payload (carried twice by a step without input:, as the payload and in the task's default input)", 'payload');
    }
    const now = this.clock.now();
    const slaMinutes = command.slaMinutes ?? definition.slaMinutes;
    const request: RequestEntity = {
      id,
      plan: plan.id,
      planVersion: plan.version,
      status: 'running',
      payload: command.payload ?? {},
      reference: command.reference ?? null,
      priority: command.priority ?? 0,
      slaDueAt: slaMinutes === undefined ? null : new Date(now.getTime() + slaMinutes * 60_000),
      slaBreachedAt: null,
      idempotencyKey: item.key,
      requestHash: item.hash,
      escalations: [],
      createdBy: actor,
      createdAt: now,
      updatedAt: now,
      completedAt: null,
      result: null,
      endDetails: null,
    };
    const steps: RequestStepEntity[] = definition.steps.map((step, position) => ({
      requestId: request.id,
      stepId: step.id,
      position,
      status: 'pending',
      pool: step.pool,
      taskId: null,
      attempts: 0,
      output: null,
      failedItems: null,
      updatedAt: now,
    }));
    const emitStart = this.workflow.begin(definition, request, steps, actor);
    return {
      request,
      steps,
      emitEvents: (emit) => {
        emit(
          'act.request.created',
          request.id,
          { plan: plan.id, version: plan.version, reference: request.reference, priority: request.priority, slaDueAt: request.slaDueAt?.toISOString() ?? null },
          actor,
        );
        emitStart(emit);
      },
    };
  }

  async get(id: string): Promise<RequestView> {
    const manager = this.dataSource.manager;
    const request = isUuid(id) ? await findRequest(manager, id) : null;
    if (!request) throw DomainError.notFound('Request', id);
    return toRequestView(request, await loadSteps(manager, id), await fanOutCounts(manager, id));
  }

  async list(query: ListRequestsQuery, maxPayload: number): Promise<Page<RequestSummary>> {
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const cursor = query.cursor ? decodeTimeIdCursor(query.cursor) : null;
    const after = cursor ? { createdAt: cursor.at, id: cursor.id } : null;
    const rows = await listRequests(this.dataSource.manager, { plan: query.plan, status: query.status, reference: query.reference }, after, limit + 1);
    return pageThatFits(rows, limit, toRequestSummary, (last) => encodeTimeIdCursor({ at: last.createdAt, id: last.id }), maxPayload);
  }

  /** Cancels a running request and its open steps; OMS cancels their tasks on `act.request.cancelled`. */
  async cancel(id: string, reason: string | undefined, actor: string): Promise<RequestSummary> {
    return this.outbox.transaction(async (tx, emit) => {
      const request = isUuid(id) ? await lockRequest(tx, id) : null;
      if (!request) throw DomainError.notFound('Request', id);
      if (isTerminalRequest(request.status)) throw new DomainError('CONFLICT', `Request '${id}' is already ${request.status}`);
      const workflow = await this.workflow.workflowOf(tx, request, await loadSteps(tx, id));
      await this.workflow.apply(tx, emit, request, workflow.cancel(reason?.trim() || `cancelled by ${actor}`), actor);
      return toRequestSummary(request);
    });
  }
}
