import type { RequestSummary, RequestView, StepView } from '@hms/contracts';
import type { RequestStepEntity } from './request-step.entity';
import type { RequestEntity } from './request.entity';

export function toRequestSummary(request: RequestEntity): RequestSummary {
  return {
    id: request.id,
    plan: request.plan,
    version: request.planVersion,
    status: request.status,
    reference: request.reference,
    priority: request.priority,
    createdAt: request.createdAt.toISOString(),
    updatedAt: request.updatedAt.toISOString(),
    slaDueAt: request.slaDueAt?.toISOString() ?? null,
    completedAt: request.completedAt?.toISOString() ?? null,
    escalations: request.escalations,
  };
}

/** A fan-out's counters by step id (fan-out.repository.ts `fanOutCounts`). */
export type FanOutCounts = ReadonlyMap<string, NonNullable<StepView['items']>>;

export function toStepView(step: RequestStepEntity, fanOuts: FanOutCounts = new Map()): StepView {
  return {
    stepId: step.stepId,
    status: step.status,
    pool: step.pool,
    taskId: step.taskId,
    attempts: step.attempts,
    output: step.output ?? null,
    items: fanOuts.get(step.stepId) ?? null,
    updatedAt: step.updatedAt.toISOString(),
  };
}

export function toRequestView(request: RequestEntity, steps: RequestStepEntity[], fanOuts: FanOutCounts = new Map()): RequestView {
  return {
    ...toRequestSummary(request),
    payload: request.payload,
    createdBy: request.createdBy,
    steps: steps.map((step) => toStepView(step, fanOuts)),
    result: request.status === 'completed' ? (request.result ?? null) : null,
    details: { reason: request.endDetails?.reason ?? null, stepId: request.endDetails?.stepId ?? null, escalations: request.escalations },
  };
}
