import { IsOptional } from 'class-validator';
import { FixedLimits, IsText } from './limits';
import { PageQuery } from './pagination';

/**
 * One autoscaling decision of OPS for a pool (API.md `GET /v1/scaling/decisions`):
 * `desired = clamp(ceil(queued / tasksPerReplica), minReplicas, maxReplicas)`, held back while
 * the pool's cooldown since the last change runs. OPS records a decision when its outcome
 * differs from the pool's previous one (not every evaluation).
 */
export interface ScalingDecisionView {
  id: string;
  pool: string;
  at: string;
  /** Tasks queued in the pool when it was decided. */
  queued: number;
  /** Replicas the target Deployment had (its scale subresource); null without a target, or when it could not be read. */
  current: number | null;
  desired: number;
  /** Why, for a person: the policy's arithmetic, a cooldown that held a change back, or why applying failed. */
  reason: string;
  /** True when OPS wrote `desired` to the target Deployment in this decision. */
  applied: boolean;
}

export class ListScalingDecisionsQuery extends PageQuery {
  @IsOptional()
  @IsText(FixedLimits.idLength)
  pool?: string;
}
