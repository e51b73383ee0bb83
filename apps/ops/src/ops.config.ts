import { IsBoolean, IsInt, IsOptional, IsString, Max, Min, MinLength } from 'class-validator';
import { EnvBoolean, EnvNumber, InfraConfig } from '@hms/platform';

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

  /**
   * Key of the `Hms-Signature` HMAC on every escalation webhook (receivers verify it instead of
   * trusting a secret in the URL). Unset: OPS posts no webhook (each delivery fails, logged).
   */
  @IsOptional()
  @IsString()
  @MinLength(16, { message: 'OPS_WEBHOOK_SECRET must be at least 16 characters' })
  OPS_WEBHOOK_SECRET?: string;

  /** `1` allows plain http webhooks (a local receiver in tests); otherwise https only. */
  @EnvBoolean()
  @IsOptional()
  @IsBoolean()
  OPS_WEBHOOK_ALLOW_HTTP: boolean = false;

  /**
   * IP addresses and networks (`127.0.0.1,10.1.0.0/16`) a webhook may reach although they are
   * private, loopback or link-local: a test's receiver, or an alerting relay inside the network.
   * Empty by default, so a webhook cannot reach the metadata service or internal ports.
   */
  @IsOptional()
  @IsString()
  OPS_WEBHOOK_ALLOW_PRIVATE?: string;

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
