import { IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
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
   * The Kubernetes API that scaling decisions are written to. Unset: inside a pod, the cluster's
   * own (KUBERNETES_SERVICE_HOST/PORT); elsewhere none, and decisions are recorded, not applied.
   */
  @IsOptional()
  @Matches(/^https?:\/\//, { message: 'OPS_KUBERNETES_API_URL must be an http(s):// URL' })
  OPS_KUBERNETES_API_URL?: string;

  /** Bearer token for that API, read again on every call (projected tokens rotate). Absent file: no token. */
  @IsOptional()
  @IsString()
  OPS_KUBERNETES_TOKEN_FILE: string = '/var/run/secrets/kubernetes.io/serviceaccount/token';

  /** CA bundle the API's certificate is checked against (absent file: the system's). */
  @IsOptional()
  @IsString()
  OPS_KUBERNETES_CA_FILE: string = '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt';

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

  @IsOptional()
  @IsString()
  KUBERNETES_SERVICE_PORT?: string;
}
