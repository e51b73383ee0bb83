import type { AutoscalePolicy, EscalationPolicy, PoolKind, PoolView } from '@hms/contracts';

/** A row of `oms.pools` as Postgres returns it. */
export interface PoolRow {
  name: string;
  kind: PoolKind;
  lease_seconds: number;
  sla_minutes: number | null;
  max_attempts: number;
  autoscale: AutoscalePolicy | null;
  escalation: EscalationPolicy | null;
  created_at: Date;
  updated_at: Date;
}

export const POOL_COLUMNS = 'name, kind, lease_seconds, sla_minutes, max_attempts, autoscale, escalation, created_at, updated_at';

export function toPoolView(row: PoolRow): PoolView {
  return {
    pool: row.name,
    kind: row.kind,
    leaseSeconds: row.lease_seconds,
    slaMinutes: row.sla_minutes,
    maxAttempts: row.max_attempts,
    autoscale: row.autoscale,
    escalation: row.escalation,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}
