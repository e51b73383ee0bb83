import { Inject, Injectable } from '@nestjs/common';
import { DomainError, systemActor, type EscalationPolicy } from '@hms/contracts';
import { CLOCK, EventOutbox, InjectLogger, PeriodicJob, RpcClient, type BackgroundJob, type Clock } from '@hms/platform';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { OpsConfig } from '../ops.config';
import { escalates, WEBHOOK_MAX_ATTEMPTS, webhookRetryDelaySeconds } from './alert.state';
import { toAlertView, type AlertRow } from './alert.view';
import { OPS_ACTOR } from './alerts.service';
import { postWebhook, WEBHOOK_SIGNATURE_HEADER, WEBHOOK_TIMESTAMP_HEADER, webhookSignature, type WebhookPolicy } from './webhook-delivery';
import { parseAllowList } from './webhook-destination';

/** Alerts escalated, and webhooks posted, per sweep at most. */
const ESCALATION_BATCH = 50;
const WEBHOOK_BATCH = 20;

/** While OMS cannot say what a pool's policy is, its due alerts are looked at again this much later (not every sweep). */
const POLICY_RETRY_SECONDS = 5;

/** The webhook as the ledger records it (see the `ops.alert.escalated` contract). */
function webhookOrigin(url: string): string {
  return URL.canParse(url) ? new URL(url).origin : 'invalid';
}

/** All an API caller learns of a failed attempt (see post). */
const WEBHOOK_FAILED = 'failed';

/** A claimed delivery not settled in this long (a replica died mid-post) is tried again. */
const WEBHOOK_CLAIM_SECONDS = 60;

/**
 * Runs each pool's escalation policy (`{webhook?, pool?, afterMinutes?}`, read from OMS when an
 * alert falls due, so a policy changed meanwhile is the one applied):
 * - an alert nobody acknowledged within `afterMinutes` of being raised is escalated: an
 *   `ops.alert.escalated` event, from which OMS queues a task in the escalation pool;
 * - its webhook is posted `{alert}` until it answers 2xx, with backoff, at most
 *   WEBHOOK_MAX_ATTEMPTS times, signed (`Hms-Signature`) and only to an allowed destination
 *   (webhook-delivery.ts). Receivers de-duplicate on the `Hms-Alert-Id` header: a delivery
 *   whose answer was lost is posted again.
 *
 * Both sweeps claim rows with SKIP LOCKED, so OPS replicas share the work.
 */
@Injectable()
export class AlertEscalation implements BackgroundJob {
  private readonly job: PeriodicJob;
  private readonly webhookPolicy: WebhookPolicy;

  constructor(
    private readonly dataSource: DataSource,
    private readonly outbox: EventOutbox,
    private readonly rpc: RpcClient,
    private readonly config: OpsConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @InjectLogger() private readonly logger: Logger,
  ) {
    this.webhookPolicy = {
      allowHttp: config.OPS_WEBHOOK_ALLOW_HTTP,
      allowed: parseAllowList(config.OPS_WEBHOOK_ALLOW_PRIVATE),
      timeoutMs: config.OPS_WEBHOOK_TIMEOUT_MS,
    };
    this.job = new PeriodicJob(
      'alert escalation',
      config.OPS_ESCALATION_SWEEP_MS,
      async () => {
        const escalated = await this.escalateDue();
        const posted = await this.deliverWebhooks();
        return { full: escalated === ESCALATION_BATCH || posted === WEBHOOK_BATCH };
      },
      logger,
    );
  }

  start(): void {
    this.job.start();
  }

  stop(): Promise<void> {
    return this.job.stop();
  }

  /** A new alert may be due at once: sweep now rather than at the next period. */
  poke(): void {
    this.job.poke();
  }

  /** Escalates (or reschedules, per `afterMinutes`) the due alerts; returns how many it looked at. */
  async escalateDue(): Promise<number> {
    const now = this.clock.now();
    const due = (await this.dataSource.query(
      `SELECT "id", "pool" FROM "ops"."alerts"
       WHERE "status" = 'open' AND "escalated_at" IS NULL AND "escalation_due_at" IS NOT NULL AND "escalation_due_at" <= $1
       ORDER BY "escalation_due_at" LIMIT ${ESCALATION_BATCH}`,
      [now],
    )) as Array<{ id: string; pool: string }>;
    if (due.length === 0) return 0;
    const policies = new Map<string, EscalationPolicy | null>();
    for (const pool of new Set(due.map((alert) => alert.pool))) {
      const policy = await this.policyOf(pool);
      if (policy !== undefined) policies.set(pool, policy);
    }
    const unknown = due.filter((alert) => !policies.has(alert.pool)).map((alert) => alert.id);
    if (unknown.length > 0) {
      await this.dataSource.query(`UPDATE "ops"."alerts" SET "escalation_due_at" = $2 WHERE "id" = ANY($1::uuid[]) AND "escalated_at" IS NULL`, [
        unknown,
        new Date(now.getTime() + POLICY_RETRY_SECONDS * 1000),
      ]);
    }
    const ready = due.filter((alert) => policies.has(alert.pool)).map((alert) => alert.id);
    if (ready.length === 0) return due.length;
    await this.outbox.transaction(async (tx, emit) => {
      const rows = (await tx.query(
        `SELECT * FROM "ops"."alerts" WHERE "id" = ANY($1::uuid[]) AND "escalated_at" IS NULL AND "escalation_due_at" <= $2 ORDER BY "id" FOR UPDATE SKIP LOCKED`,
        [ready, now],
      )) as AlertRow[];
      for (const row of rows) {
        if (!escalates(row.status)) continue;
        const policy = policies.get(row.pool!) ?? null;
        if (!policy || (!policy.pool && !policy.webhook)) {
          // Nothing to run: the alert stays raised and listed, with no escalation pending.
          await tx.query(`UPDATE "ops"."alerts" SET "escalation_due_at" = NULL WHERE "id" = $1`, [row.id]);
          continue;
        }
        const dueAt = new Date(row.raised_at.getTime() + (policy.afterMinutes ?? 0) * 60_000);
        if (dueAt > now) {
          await tx.query(`UPDATE "ops"."alerts" SET "escalation_due_at" = $2 WHERE "id" = $1`, [row.id, dueAt]);
          continue;
        }
        await tx.query(
          `UPDATE "ops"."alerts" SET "escalated_at" = $2::timestamptz, "escalation_pool" = $3, "webhook_url" = $4::text,
             "webhook_status" = CASE WHEN $4::text IS NULL THEN NULL ELSE 'pending' END,
             "webhook_next_at" = CASE WHEN $4::text IS NULL THEN NULL ELSE $2::timestamptz END
           WHERE "id" = $1`,
          [row.id, now, policy.pool ?? null, policy.webhook ?? null],
        );
        emit(
          'ops.alert.escalated',
          row.request_id,
          { alertId: row.id, kind: row.kind, pool: row.pool, taskId: row.task_id, stepId: row.step_id, message: row.message, escalationPool: policy.pool ?? null, webhook: policy.webhook ? webhookOrigin(policy.webhook) : null },
          OPS_ACTOR,
        );
      }
    });
    return due.length;
  }

  /** The pool's escalation policy; null for none (or no such pool); undefined when OMS could not say (tried again next sweep). */
  private async policyOf(pool: string): Promise<EscalationPolicy | null | undefined> {
    try {
      const view = await this.rpc.call('oms.pool.get', { pool }, { actor: systemActor('ops'), timeoutMs: 2000 });
      return view.escalation ?? null;
    } catch (error) {
      if (error instanceof DomainError && error.code === 'NOT_FOUND') return null;
      this.logger.warn({ err: error, pool }, 'could not read the pool escalation policy; the escalation waits');
      return undefined;
    }
  }

  /** Posts the due webhook deliveries; returns how many it claimed. */
  async deliverWebhooks(): Promise<number> {
    const now = this.clock.now();
    const claimed = (await this.dataSource.query(
      `UPDATE "ops"."alerts" SET "webhook_attempts" = "webhook_attempts" + 1, "webhook_next_at" = $2
       WHERE "id" IN (
         SELECT "id" FROM "ops"."alerts" WHERE "webhook_status" = 'pending' AND "webhook_next_at" <= $1
         ORDER BY "webhook_next_at" LIMIT ${WEBHOOK_BATCH} FOR UPDATE SKIP LOCKED
       )
       RETURNING *`,
      [now, new Date(now.getTime() + WEBHOOK_CLAIM_SECONDS * 1000)],
    )) as [AlertRow[], number];
    const rows = claimed[0];
    await Promise.all(rows.map((row) => this.post(row)));
    return rows.length;
  }

  private async post(row: AlertRow): Promise<void> {
    const body = JSON.stringify({ alert: toAlertView(row) });
    const timestamp = String(Math.floor(this.clock.now().getTime() / 1000));
    const secret = this.config.OPS_WEBHOOK_SECRET;
    const outcome = secret
      ? await postWebhook(
          row.webhook_url!,
          body,
          {
            'content-type': 'application/json',
            'user-agent': 'hms-ops',
            'hms-alert-id': row.id,
            'hms-delivery-attempt': String(row.webhook_attempts),
            [WEBHOOK_TIMESTAMP_HEADER]: timestamp,
            [WEBHOOK_SIGNATURE_HEADER]: webhookSignature(secret, timestamp, body),
          },
          this.webhookPolicy,
        )
      : ({ ok: false, reason: 'OPS_WEBHOOK_SECRET is not set: webhooks are not posted unsigned', final: true } as const);
    const failure = outcome.ok ? null : outcome.reason;
    const final = !outcome.ok && outcome.final === true;
    const now = this.clock.now();
    if (failure === null) {
      await this.dataSource.query(
        `UPDATE "ops"."alerts" SET "webhook_status" = 'delivered', "webhook_delivered_at" = $2, "webhook_next_at" = NULL, "webhook_last_error" = NULL WHERE "id" = $1`,
        [row.id, now],
      );
      return;
    }
    const givenUp = final || row.webhook_attempts >= WEBHOOK_MAX_ATTEMPTS;
    // The reason (a status code, a refused address) stays in the log: shown to API callers it
    // would make the webhook a probe of what answers where inside the network.
    this.logger.warn({ alertId: row.id, attempt: row.webhook_attempts, failure, givenUp }, 'alert webhook delivery failed');
    await this.dataSource.query(`UPDATE "ops"."alerts" SET "webhook_status" = $2, "webhook_next_at" = $3, "webhook_last_error" = $4 WHERE "id" = $1`, [
      row.id,
      givenUp ? 'failed' : 'pending',
      givenUp ? null : new Date(now.getTime() + webhookRetryDelaySeconds(row.webhook_attempts) * 1000),
      WEBHOOK_FAILED,
    ]);
  }
}
