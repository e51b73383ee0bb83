import { DEFAULT_MAX_LEASE_SECONDS, type AutoscalePolicy, type EscalationPolicy, type PoolKind, type PoolView } from '@hms/contracts';
import { effectiveLivenessSeconds } from '../workers/liveness-window';

/** A row of `oms.pools` as Postgres returns it. */
export interface PoolRow {
  name: string;
  kind: PoolKind;
  lease_seconds: number;
  max_lease_seconds: number | null;
  sla_minutes: number | null;
  max_attempts: number;
  autoscale: AutoscalePolicy | null;
  escalation: EscalationPolicy | null;
  worker_liveness_seconds: number | null;
  created_at: Date;
  updated_at: Date;
}

export const POOL_COLUMNS = 'name, kind, lease_seconds, max_lease_seconds, sla_minutes, max_attempts, autoscale, escalation, worker_liveness_seconds, created_at, updated_at';

/** `defaultLivenessSeconds` (OMS_WORKER_LIVENESS_SECONDS) fills in for a pool without its own window. */
export function toPoolView(row: PoolRow, defaultLivenessSeconds: number): PoolView {
  return {
    pool: row.name,
    kind: row.kind,
    leaseSeconds: row.lease_seconds,
    maxLeaseSeconds: row.max_lease_seconds ?? DEFAULT_MAX_LEASE_SECONDS,
    slaMinutes: row.sla_minutes,
    maxAttempts: row.max_attempts,
    autoscale: row.autoscale,
    escalation: row.escalation,
    workerLivenessSeconds: effectiveLivenessSeconds(row.worker_liveness_seconds, defaultLivenessSeconds),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}
