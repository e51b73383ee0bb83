import { IsInt, IsOptional, IsString, Max, Min, MinLength } from 'class-validator';
import { EnvNumber, InfraConfig } from '@hms/platform';

/** Settings of the ACT service, validated at boot (see `loadConfig`). */
export class ActConfig extends InfraConfig {
  @EnvNumber()
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(65535)
  override PORT: number = 3001;

  /** A folder of `*.plan.yaml` / `*.plan.json` files registered at start-up (unchanged ones keep their version). */
  @IsOptional()
  @IsString()
  @MinLength(1)
  HMS_PLANS_DIR?: string;

  /** Postgres connections of this replica: RPC handlers, two event consumers and the outbox relay share them. */
  @EnvNumber()
  @IsOptional()
  @IsInt()
  @Min(2)
  @Max(200)
  ACT_DB_POOL_SIZE: number = 10;

  /** How often the scheduler looks for due fire times of plan schedules; 0 turns it off on this replica. */
  @EnvNumber()
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  ACT_SCHEDULE_TICK_MS: number = 1000;

  /** How often the SLA sweep looks for running requests past their `slaDueAt`; 0 turns it off on this replica. */
  @EnvNumber()
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  ACT_SLA_SWEEP_MS: number = 1000;

  /**
   * How often the fan-out emitter looks for fan-outs with items left to queue when nothing woke
   * it (a fan-out started on this replica wakes it at once); 0 turns it off on this replica.
   */
  @EnvNumber()
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  ACT_FAN_OUT_TICK_MS: number = 1000;

  /**
   * The folder signed ledger checkpoints are written to and verified from (a volume every ACT
   * replica mounts; docs/security.md). Unset: no checkpoints, and verify holds chains against
   * the heads table only.
   */
  @IsOptional()
  @IsString()
  @MinLength(1)
  ACT_LEDGER_CHECKPOINT_DIR?: string;

  /**
   * The Ed25519 private key that signs checkpoints, as PEM or the path of a PEM file. The
   * database never sees it, so whoever owns the database cannot sign a checkpoint for a rewritten
   * ledger. Unset: this replica writes no checkpoints (it still verifies against them).
   */
  @IsOptional()
  @IsString()
  @MinLength(1)
  ACT_LEDGER_CHECKPOINT_KEY?: string;

  /** Retired checkpoint public keys (PEM files, comma-separated) that older checkpoints still verify with. */
  @IsOptional()
  @IsString()
  ACT_LEDGER_CHECKPOINT_TRUSTED_KEYS?: string;

  /** How often a checkpoint of the changed chain heads is written; 0 turns it off on this replica. */
  @EnvNumber()
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(86_400_000)
  ACT_LEDGER_CHECKPOINT_MS: number = 60_000;
}
