import { DEFAULT_SCALING_COOLDOWN_SECONDS, type AutoscalePolicy } from '@hms/contracts';

/** What the pool's last recorded decision asked for, and since when. */
export interface PreviousDecision {
  desired: number;
  /** When `desired` last changed (the start of the cooldown). */
  desiredSince: Date;
}

export interface ReplicaDecision {
  desired: number;
  /** The policy's answer before the cooldown; differs from `desired` while a change is held back. */
  wanted: number;
  /** True when the cooldown held a change back. */
  held: boolean;
  reason: string;
}

/** `clamp(ceil(queued / tasksPerReplica), minReplicas, maxReplicas)`: API.md's default policy. */
export function replicasFor(queued: number, policy: Pick<AutoscalePolicy, 'tasksPerReplica' | 'minReplicas' | 'maxReplicas'>): number {
  return Math.min(policy.maxReplicas, Math.max(policy.minReplicas, Math.ceil(queued / policy.tasksPerReplica)));
}

/**
 * The replicas a pool should have now. A change of the desired count, up or down, waits until
 * the cooldown since the previous change has passed: scaling down removes workers that may hold
 * leases, and a queue that fills and drains within the cooldown should not flap the Deployment.
 */
export function decideReplicas(input: { queued: number; policy: AutoscalePolicy; previous: PreviousDecision | null; now: Date }): ReplicaDecision {
  const { queued, policy, previous, now } = input;
  const wanted = replicasFor(queued, policy);
  const arithmetic = `${queued} queued / ${policy.tasksPerReplica} per replica, within ${policy.minReplicas}..${policy.maxReplicas}: ${wanted}`;
  if (!previous || previous.desired === wanted) return { desired: wanted, wanted, held: false, reason: arithmetic };
  const cooldownSeconds = policy.cooldownSeconds ?? DEFAULT_SCALING_COOLDOWN_SECONDS;
  const cooldownEnds = new Date(previous.desiredSince.getTime() + cooldownSeconds * 1000);
  if (now < cooldownEnds) {
    return { desired: previous.desired, wanted, held: true, reason: `${arithmetic}; held at ${previous.desired} by the ${cooldownSeconds} s cooldown until ${cooldownEnds.toISOString()}` };
  }
  return { desired: wanted, wanted, held: false, reason: arithmetic };
}
