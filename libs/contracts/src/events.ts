import type { AlertKind } from './alerts.messages';
import type { RetryPolicy } from './plan.schema';

/** Where an event came from. */
export type EventSource = 'act' | 'oms' | 'ops';

/**
 * Every event type and its data. The type doubles as the JetStream subject suffix
 * (`hms.evt.<type>`), named `<service>.<entity>.<past participle>`.
 */
export interface EventDataMap {
  'act.plan.registered': { plan: string; version: number };
  'act.request.created': {
    plan: string;
    version: number;
    reference: string | null;
    priority: number;
    slaDueAt: string | null;
  };
  /** A step's dependencies are met: OMS queues a task for it. */
  'act.step.ready': {
    stepId: string;
    pool: string;
    title: string;
    tags: string[];
    priority: number;
    payload: Record<string, unknown>;
    /** What the step's task works on (its `input:`, else the payload and its dependencies' outputs); absent in events older than it. */
    input?: Record<string, unknown>;
    leaseSeconds: number | null;
    slaMinutes: number | null;
    retry: RetryPolicy | null;
  };
  /**
   * A `forEach` step started: its list has `items` items, each to be queued as a task by an
   * `act.step.ready` of step `ItemSteps.stepIdOf(stepId, index)`, emitted in chunks after this.
   */
  'act.step.fanned-out': { stepId: string; items: number };
  'act.step.skipped': { stepId: string; reason: string };
  'act.request.completed': { plan: string };
  'act.request.rejected': { plan: string; stepId: string };
  'act.request.failed': { plan: string; stepId: string; reason: string };
  'act.request.cancelled': { plan: string; reason: string };
  /** A running request passed its `slaDueAt`; emitted once per request. Not a state change: it stays running. */
  'act.request.sla-breached': { plan: string; slaDueAt: string };
  'oms.task.queued': {
    taskId: string;
    stepId: string;
    pool: string;
    priority: number;
    tags: string[];
    attempt: number;
    slaDueAt: string | null;
  };
  'oms.task.leased': {
    taskId: string;
    stepId: string;
    pool: string;
    worker: string;
    /** Identifies this lease (not the secret token). */
    leaseId: string;
    attempt: number;
    leaseExpiresAt: string;
    waitedMs: number;
  };
  'oms.task.completed': {
    taskId: string;
    stepId: string;
    pool: string;
    worker: string;
    leaseId: string;
    attempt: number;
    output: Record<string, unknown>;
  };
  'oms.task.failed': {
    taskId: string;
    stepId: string;
    pool: string;
    worker: string;
    leaseId: string;
    attempt: number;
    error: { message: string; code?: string };
    retryAt: string | null;
  };
  /** Back in the queue: a lease expired, was released, or its worker is gone. */
  'oms.task.requeued': {
    taskId: string;
    stepId: string;
    pool: string;
    leaseId: string;
    attempt: number;
    reason: 'lease-expired' | 'released' | 'worker-gone';
  };
  'oms.task.dead': {
    taskId: string;
    stepId: string;
    pool: string;
    attempts: number;
    error: { message: string; code?: string } | null;
  };
  'oms.task.cancelled': { taskId: string; stepId: string; pool: string; reason: string; leaseId: string | null };
  'oms.task.rerouted': { taskId: string; stepId: string; fromPool: string; toPool: string; reason: string };
  /** An open task passed its `slaDueAt`; emitted once per task. Not a state change: it stays where it is. */
  'oms.task.sla-breached': {
    taskId: string;
    stepId: string;
    pool: string;
    slaDueAt: string;
    status: 'queued' | 'leased';
    /** The lease holder when it breached; null while queued. */
    worker: string | null;
  };
  'oms.pool.updated': { pool: string };
  /** A worker leased from a pool for the first time, or again after it was declared gone. */
  'oms.worker.online': { worker: string; pool: string };
  /** A worker silent for longer than the liveness window is declared gone from a pool. */
  'oms.worker.offline': { worker: string; pool: string; lastSeenAt: string };
  /** A breach or a dead task raised an alert (once per kind and task or request). */
  'ops.alert.raised': { alertId: string; kind: AlertKind; pool: string | null; taskId: string | null; stepId: string | null; message: string };
  'ops.alert.acknowledged': { alertId: string; kind: AlertKind };
  /**
   * The alert's pool escalation ran (nobody acknowledged it within `afterMinutes`): OMS queues a
   * task in `escalationPool` (step `EscalationSteps.stepIdOf(alertId)`), OPS posts to the webhook.
   */
  'ops.alert.escalated': {
    alertId: string;
    kind: AlertKind;
    pool: string | null;
    taskId: string | null;
    stepId: string | null;
    message: string;
    escalationPool: string | null;
    /**
     * The origin (scheme, host, port) of the webhook OPS posts to: enough for the audit trail,
     * without the path and query that may carry a receiver's token (this event is in the ledger,
     * which services read; the full URL is for managers only).
     */
    webhook: string | null;
  };
  /** Its task finished, its escalation task was completed, or a manager resolved it. */
  'ops.alert.resolved': { alertId: string; kind: AlertKind; resolution: string };
  /**
   * A consumer of `service` gave up on an event after `deliveries` failed deliveries and parked
   * it (`parkedId` in that service's parked events): OPS raises an `event-parked` alert. Only
   * the event's identity and a bounded error travel, never its data, so this event cannot carry
   * whatever made the parked one fail. A consumer that parks one of these emits nothing more.
   */
  'platform.event.parked': {
    service: EventSource;
    consumer: string;
    parkedId: string;
    eventId: string;
    eventType: string;
    deliveries: number;
    error: string;
  };
  /** An operator replayed a parked event and its consumer handled it: OPS resolves its alert. */
  'platform.event.replayed': { service: EventSource; consumer: string; parkedId: string; eventId: string; eventType: string };
}

/** One of the event types. */
export type EventType = keyof EventDataMap;

/** The envelope every event travels in, on JetStream and in the ledger. */
export interface HmsEvent<T extends EventType = EventType> {
  /** Unique; consumers and the ledger de-duplicate on it. */
  id: string;
  type: T;
  /** When the change happened (ISO-8601). */
  at: string;
  /** Who caused it. */
  actor: string;
  /** The request it belongs to; null for events of no request (plans, pools). */
  requestId: string | null;
  source: EventSource;
  data: EventDataMap[T];
}

/** Any event, as a union discriminated on `type`. */
export type AnyHmsEvent = { [T in EventType]: HmsEvent<T> }[EventType];
