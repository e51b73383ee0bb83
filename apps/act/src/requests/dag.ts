import type { StepStatus } from '@hms/contracts';
import { dependenciesOf, type GraphStep } from '../plans/plan-graph';
import { isSettledStep } from './step.state';

/**
 * DAG readiness: the pending steps whose dependencies (`after`, or the previous step) are all
 * settled (done or skipped), in plan order. Pure, so the workflow engine and its tests share it.
 */
export function readySteps(steps: readonly GraphStep[], statuses: ReadonlyMap<string, StepStatus>): string[] {
  const deps = dependenciesOf(steps);
  return steps
    .filter((step) => statuses.get(step.id) === 'pending')
    .filter((step) => (deps.get(step.id) ?? []).every((dep) => isSettledStep(statuses.get(dep) ?? 'pending')))
    .map((step) => step.id);
}

/** True when every step is done or skipped: the request is complete. */
export function allStepsSettled(steps: readonly GraphStep[], statuses: ReadonlyMap<string, StepStatus>): boolean {
  return steps.every((step) => isSettledStep(statuses.get(step.id) ?? 'pending'));
}
