import { Type } from 'class-transformer';
import { IsIn, IsInt, IsNumber, IsOptional, IsPositive, Matches, Max, MaxLength, Min, registerDecorator, ValidateNested, type ValidationArguments } from 'class-validator';
import { FixedLimits, INT4_MAX, IsSlug, IsText, WEBHOOK_URL_MAX_LENGTH } from './limits';
import { PoolKind, PoolKinds } from './statuses';

/** A Kubernetes object name (RFC 1123 label): it becomes a segment of the API path OPS writes to. */
const KUBERNETES_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The Kubernetes Deployment a pool's autoscaling decisions are applied to. */
export class ScaleTarget {
  @Matches(KUBERNETES_NAME, { message: 'namespace must be a Kubernetes name ([a-z0-9-], starting and ending alphanumeric)' })
  @MaxLength(63)
  namespace: string;

  @Matches(KUBERNETES_NAME, { message: 'deployment must be a Kubernetes name ([a-z0-9-], starting and ending alphanumeric)' })
  @MaxLength(63)
  deployment: string;
}

/** The property is a number no smaller than the object's `other` property (when both are numbers). */
function IsNotBelow(other: string) {
  return (object: object, propertyName: string) =>
    registerDecorator({
      name: 'isNotBelow',
      target: object.constructor,
      propertyName,
      constraints: [other],
      options: { message: `${propertyName} must not be below ${other}` },
      validator: {
        validate(value: unknown, args: ValidationArguments) {
          const bound = (args.object as Record<string, unknown>)[other];
          return typeof value !== 'number' || typeof bound !== 'number' || value >= bound;
        },
      },
    });
}

/** The cooldown of a pool whose autoscaling has no `cooldownSeconds`. */
export const DEFAULT_SCALING_COOLDOWN_SECONDS = 60;

/** Far beyond any Deployment, and small enough that every replica count fits its int4 column. */
const MAX_REPLICAS = 100_000;

/** `desired = clamp(ceil(queued / tasksPerReplica), minReplicas, maxReplicas)`, with cooldown. */
export class AutoscalePolicy {
  @IsInt()
  @Min(1)
  @Max(INT4_MAX)
  tasksPerReplica: number;

  @IsInt()
  @Min(0)
  @Max(MAX_REPLICAS)
  minReplicas: number;

  @IsInt()
  @Min(0)
  @Max(MAX_REPLICAS)
  @IsNotBelow('minReplicas')
  maxReplicas: number;

  /** After a change of the desired replicas, no other change for this long (default {@link DEFAULT_SCALING_COOLDOWN_SECONDS}). */
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(24 * 3600)
  cooldownSeconds?: number;

  @IsOptional()
  @ValidateNested()
  @Type(() => ScaleTarget)
  target?: ScaleTarget;
}

/**
 * An absolute http(s) URL without credentials: a secret belongs in the signing key OPS holds
 * (the `Hms-Signature` header), not in a URL that is stored, logged and shown to managers.
 * Whether plain http and which destinations are allowed is OPS's decision at delivery time
 * (docs/security.md), since only OPS resolves the name and connects.
 */
function IsWebhookUrl() {
  return (object: object, propertyName: string) =>
    registerDecorator({
      name: 'isWebhookUrl',
      target: object.constructor,
      propertyName,
      options: { message: `${propertyName} must be an http(s) URL without user name or password, at most ${WEBHOOK_URL_MAX_LENGTH} characters` },
      validator: {
        validate(value: unknown) {
          if (typeof value !== 'string' || value.length > WEBHOOK_URL_MAX_LENGTH || !URL.canParse(value)) return false;
          const url = new URL(value);
          return (url.protocol === 'https:' || url.protocol === 'http:') && url.hostname !== '' && url.username === '' && url.password === '';
        },
      },
    });
}

/** What happens when a task of the pool breaches its SLA or dies. */
export class EscalationPolicy {
  /** POSTed `{alert}` with an `Hms-Signature` HMAC header; shown to managers only. */
  @IsOptional()
  @IsWebhookUrl()
  webhook?: string;

  /** A pool that receives an escalation task. */
  @IsOptional()
  @IsSlug()
  pool?: string;

  @IsOptional()
  @IsNumber()
  @Min(0)
  @Max(FixedLimits.slaMinutes)
  afterMinutes?: number;
}

/**
 * Bounds of a pool's `workerLivenessSeconds`. The lower bound is load-bearing: OMS sizes its
 * presence cache and its liveness check interval from it, so lowering it needs those to follow.
 * The upper bound, a day, is far beyond any worker's call cadence: a pool that wants silent
 * workers to keep their leases longer should rely on lease expiry instead.
 */
export const WORKER_LIVENESS_LIMITS = { minSeconds: 10, maxSeconds: 86_400 } as const;

/** Create or change a pool (API.md `PUT /v1/pools/:pool`). */
export class UpsertPoolCommand {
  @IsSlug()
  pool: string;

  @IsIn(PoolKinds)
  kind: PoolKind;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(FixedLimits.leaseSeconds)
  leaseSeconds?: number;

  /**
   * The longest lease a caller may ask for (`leaseSeconds` of a lease call, `extendSeconds` of a
   * heartbeat); a longer ask is cut to it (or to the task's own lease length, if longer). Absent:
   * `DEFAULT_MAX_LEASE_SECONDS` (limits.ts).
   */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(FixedLimits.leaseSeconds)
  maxLeaseSeconds?: number;

  @IsOptional()
  @IsNumber()
  @IsPositive()
  @Max(FixedLimits.slaMinutes)
  slaMinutes?: number;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100)
  maxAttempts?: number;

  @IsOptional()
  @ValidateNested()
  @Type(() => AutoscalePolicy)
  autoscale?: AutoscalePolicy;

  @IsOptional()
  @ValidateNested()
  @Type(() => EscalationPolicy)
  escalation?: EscalationPolicy;

  /**
   * A worker silent (no lease, task or worker heartbeat, complete, fail or release call) for
   * this long is declared gone from this pool and its leases here are requeued. Absent: OMS's
   * default (`OMS_WORKER_LIVENESS_SECONDS`), which then follows that setting if it changes.
   */
  @IsOptional()
  @IsInt()
  @Min(WORKER_LIVENESS_LIMITS.minSeconds)
  @Max(WORKER_LIVENESS_LIMITS.maxSeconds)
  workerLivenessSeconds?: number;
}

/** A pool as stored. */
export interface PoolView {
  pool: string;
  kind: PoolKind;
  leaseSeconds: number;
  /** The effective cap on asked lease lengths (its own, else `DEFAULT_MAX_LEASE_SECONDS` (limits.ts)). */
  maxLeaseSeconds: number;
  slaMinutes: number | null;
  maxAttempts: number;
  autoscale: AutoscalePolicy | null;
  escalation: EscalationPolicy | null;
  /**
   * The pool's effective worker liveness window: its own `workerLivenessSeconds`, or OMS's
   * default when it has none (whether it is the default is not shown; see docs/api.md).
   */
  workerLivenessSeconds: number;
  createdAt: string;
  updatedAt: string;
}

export class GetPoolQuery {
  @IsText(FixedLimits.idLength)
  pool: string;
}

export class ListPoolsQuery {}

/** Change the SLA of tasks queued in the pool from now on. */
export class SetPoolSlaCommand {
  @IsSlug()
  pool: string;

  @IsNumber()
  @IsPositive()
  @Max(FixedLimits.slaMinutes)
  minutes: number;
}

/** Defaults of a pool created on first use. */
export const POOL_DEFAULTS = { kind: 'human' as PoolKind, leaseSeconds: 300, maxAttempts: 3 };
