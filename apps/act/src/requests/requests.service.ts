import { Inject, Injectable } from '@nestjs/common';
import {
  DEFAULT_PAGE_SIZE,
  DomainError,
  type CreateRequestCommand,
  type CreateRequestResult,
  type ListRequestsQuery,
  type Page,
  type RequestSummary,
  type RequestView,
  isUuid,
} from '@hms/contracts';
import { assertRoomFor, CLOCK, pageThatFits, decodeTimeIdCursor, encodeTimeIdCursor, EventOutbox, type Clock, type Emit, type IdGenerator } from '@hms/platform';
import { DataSource, type EntityManager } from 'typeorm';
import { ID_GENERATOR } from '../act.tokens';
import { contentHash } from '../common/canonical-json';
import { inlinePlanOf, underPlan } from '../plans/plan-source';
import { PlansService } from '../plans/plans.service';
import { RequestStepEntity } from './request-step.entity';
import { RequestEntity } from './request.entity';
import { isTerminalRequest } from './request.state';
import { toRequestSummary, toRequestView } from './request.views';
import { findRequest, findRequestByIdempotencyKey, insertRequest, insertSteps, listRequests, loadSteps, lockRequest } from './requests.repository';
import { WorkflowService } from './workflow.service';
import { scheduleReference } from '../schedules/fire-times';
import { insertScheduleFire } from '../schedules/schedules.repository';

/** A create command whose plan is named (an inline plan has been registered by then). */
type NamedPlanCommand = Omit<CreateRequestCommand, 'plan'> & { plan: string };

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

/** Requests: create (and start), read, list, cancel. */
@Injectable()
export class RequestsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly outbox: EventOutbox,
    private readonly plans: PlansService,
    private readonly workflow: WorkflowService,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
  ) {}

  /**
   * Creates a request of a plan version and starts it, in one transaction: the request, its steps,
   * `act.request.created` and the first `act.step.ready` events commit together or not at all.
   * A payload that would leave too little of NATS's `max_payload` for those is PAYLOAD_TOO_LARGE.
   */
  async create(command: CreateRequestCommand, actor: string, wire: { requestBytes: number; maxPayload: number }): Promise<CreateRequestResult> {
    // The payload travels on in every step's `act.step.ready` and in each lease of its tasks;
    // those are built later, by consumers, where a payload too large to carry could only fail.
    assertRoomFor(command.payload, wire, 'The payload', 'payload');
    return this.outbox.transaction(async (tx, emit) => this.createIn(tx, emit, await this.namePlan(tx, emit, command, actor), actor, undefined, wire));
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
      return this.createIn(tx, emit, command, actor, requestId);
    });
  }

  /** The body of `create`, inside the caller's transaction (so events go through its outbox). */
  private async createIn(
    tx: EntityManager,
    emit: Emit,
    command: NamedPlanCommand,
    actor: string,
    id: string = this.ids.next(),
    wire?: { requestBytes: number; maxPayload: number },
  ): Promise<CreateRequestResult> {
    const key = command.idempotencyKey ?? null;
    const hash = key ? requestHashOf(command) : null;
    const earlier = async (): Promise<CreateRequestResult | null> => {
      const existing = key ? await findRequestByIdempotencyKey(tx, actor, key) : null;
      if (!existing) return null;
      if (existing.requestHash !== hash) {
        throw new DomainError('IDEMPOTENCY_MISMATCH', `Idempotency key '${key}' was already used with a different request body`);
      }
      return { request: toRequestSummary(existing), created: false };
    };
    const repeated = await earlier();
    if (repeated) return repeated;

    const plan = await this.plans.find(tx, command.plan, command.version);
    if (!plan) throw this.plans.notFound(command.plan, command.version);
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
      idempotencyKey: key,
      requestHash: hash,
      escalations: [],
      createdBy: actor,
      createdAt: now,
      updatedAt: now,
      completedAt: null,
      result: null,
      endDetails: null,
    };
    if (!(await insertRequest(tx, request))) {
      // Lost a race with a concurrent create under the same key: answer with the winner.
      const winner = await earlier();
      if (winner) return winner;
      throw new DomainError('CONFLICT', 'The request could not be created; try again');
    }
    const steps: RequestStepEntity[] = definition.steps.map((step, position) => ({
      requestId: request.id,
      stepId: step.id,
      position,
      status: 'pending',
      pool: step.pool,
      taskId: null,
      attempts: 0,
      output: null,
      updatedAt: now,
    }));
    await insertSteps(tx, steps);
    emit(
      'act.request.created',
      request.id,
      { plan: plan.id, version: plan.version, reference: request.reference, priority: request.priority, slaDueAt: request.slaDueAt?.toISOString() ?? null },
      actor,
    );
    const workflow = await this.workflow.workflowOf(tx, request, steps);
    await this.workflow.apply(tx, emit, request, workflow.start(), actor);
    return { request: toRequestSummary(request), created: true };
  }

  async get(id: string): Promise<RequestView> {
    const manager = this.dataSource.manager;
    const request = isUuid(id) ? await findRequest(manager, id) : null;
    if (!request) throw DomainError.notFound('Request', id);
    return toRequestView(request, await loadSteps(manager, id));
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
