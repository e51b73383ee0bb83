import { IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import { EnvNumber, InfraConfig } from '@hms/platform';

export class OpsConfig extends InfraConfig {
  @EnvNumber()
  @IsOptional()
  @IsInt()
  override PORT: number = 3003;

  /** Window of the wait percentiles, throughput and success rate. */
  @EnvNumber()
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(24 * 60)
  OPS_METRICS_WINDOW_MINUTES: number = 60;

  /** How often due escalations and webhook deliveries are looked for (a new alert also wakes the sweep). */
  @EnvNumber()
  @IsOptional()
  @IsInt()
  @Min(50)
  @Max(60_000)
  OPS_ESCALATION_SWEEP_MS: number = 1000;

  /** A webhook that has not answered in this long counts as a failed attempt (retried with backoff). */
  @EnvNumber()
  @IsOptional()
  @IsInt()
  @Min(100)
  @Max(60_000)
  OPS_WEBHOOK_TIMEOUT_MS: number = 5000;

  /** How often each autoscaled pool's replicas are decided (and applied to its Deployment). */
  @EnvNumber()
  @IsOptional()
  @IsInt()
  @Min(100)
  @Max(600_000)
  OPS_SCALING_INTERVAL_MS: number = 15_000;

  /**
   * A kubeconfig for the cluster whose Deployments OPS scales, when OPS runs outside it (or goes
   * through `kubectl proxy`). Unset: inside a pod, its own service account; elsewhere no API, and
   * decisions are recorded, not applied.
   */
  @IsOptional()
  @IsString()
  OPS_KUBECONFIG?: string;

  @EnvNumber()
  @IsOptional()
  @IsInt()
  @Min(100)
  @Max(60_000)
  OPS_KUBERNETES_TIMEOUT_MS: number = 5000;

  /** Set by Kubernetes in every pod: where the in-cluster API is. */
  @IsOptional()
  @IsString()
  KUBERNETES_SERVICE_HOST?: string;
}
