import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { EnvNumber, InfraConfig } from '@hms/platform';

/** OMS settings: infrastructure from {@link InfraConfig}, the rest prefixed `OMS_`. */
export class OmsConfig extends InfraConfig {
  @EnvNumber()
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(65535)
  override PORT: number = 3002;

  /**
   * How often expired leases are reclaimed. A lease is honoured until the sweep takes it back,
   * so this bounds how late after its deadline a task becomes leasable again.
   */
  @EnvNumber()
  @IsOptional()
  @IsInt()
  @Min(50)
  @Max(60_000)
  OMS_LEASE_SWEEP_MS: number = 500;

  /**
   * The default worker liveness window, for pools without their own `workerLivenessSeconds`: a
   * worker that makes no call (lease, heartbeat, complete…) for this long loses its leases there.
   */
  @EnvNumber()
  @IsOptional()
  @IsInt()
  @Min(1)
  OMS_WORKER_LIVENESS_SECONDS: number = 60;

  /**
   * Lease order only: a task without an SLA ranks as if due this long after it was created, so
   * a steady stream of tasks with SLAs cannot starve it (and it cannot starve them).
   */
  @EnvNumber()
  @IsOptional()
  @IsInt()
  @Min(1)
  OMS_UNTIMED_TASK_DEADLINE_MINUTES: number = 1440;

  /** How often the SLA watch looks for open tasks past their `slaDueAt`; a breach is announced at most this late. */
  @EnvNumber()
  @IsOptional()
  @IsInt()
  @Min(50)
  @Max(60_000)
  OMS_SLA_SWEEP_MS: number = 1000;

  /**
   * A long-polling lease call looks at its queue again this often even without a wake-up
   * signal. Signals are fire-and-forget core NATS; this bounds what a lost one can cost. A
   * parked call looks at least every half of the smallest liveness window whatever this says:
   * each look keeps its worker seen (liveness-window.ts, longPollLookMs).
   */
  @EnvNumber()
  @IsOptional()
  @IsInt()
  @Min(100)
  @Max(60_000)
  OMS_LONG_POLL_RECHECK_MS: number = 2000;

  /**
   * Postgres connections of this replica. Long-polls hold none while they wait, so this only
   * needs to cover the concurrent statements, not the waiting workers.
   */
  @EnvNumber()
  @IsOptional()
  @IsInt()
  @Min(2)
  @Max(500)
  OMS_DB_POOL_SIZE: number = 20;

  /**
   * Further Postgres connections of this replica for the lease, complete and lone-pickup
   * statements, which keep one plan per connection (GenericPlanPool); opened as needed.
   */
  @EnvNumber()
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(500)
  OMS_DB_GENERIC_PLAN_POOL_SIZE: number = 8;
}
