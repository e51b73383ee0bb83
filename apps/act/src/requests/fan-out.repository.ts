import { preparedQuery } from '@hms/platform';
import type { EntityManager } from 'typeorm';
import type { FanOutOutcome } from './workflow';

/**
 * The SQL of fan-outs (fan-out.entity.ts has the tables). Every statement is set-based or by key:
 * a fan-out of 100,000 items is written a chunk of items per emitter transaction and a consumer
 * batch of item ends per statement, never a statement per item.
 */

/** Stores a started fan-out's list, to be emitted in chunks; false if it was stored before (a redelivered event). */
export async function insertFanOut(tx: EntityManager, requestId: string, stepId: string, items: unknown[]): Promise<boolean> {
  const rows = await tx.query(
    `INSERT INTO "act"."fan_outs" ("request_id", "step_id", "items", "total", "emitted", "completed", "failed", "emitting")
     VALUES ($1, $2, $3::text::jsonb, $4, 0, 0, 0, $4 > 0)
     ON CONFLICT ON CONSTRAINT "fan_outs_pkey" DO NOTHING RETURNING 1`,
    [requestId, stepId, JSON.stringify(items), items.length],
  );
  return rows.length > 0;
}

/** Fan-outs with items still to emit (a few at a time; index fan_outs_emitting_idx). */
export async function emittingFanOuts(tx: EntityManager, limit: number): Promise<Array<{ requestId: string; stepId: string }>> {
  const rows: Array<{ request_id: string; step_id: string }> = await tx.query(
    `SELECT "request_id", "step_id" FROM "act"."fan_outs" WHERE "emitting" LIMIT $1`,
    [limit],
  );
  return rows.map((row) => ({ requestId: row.request_id, stepId: row.step_id }));
}

/**
 * The next chunk of a fan-out's items to emit, its row locked (the caller holds its request's
 * lock first, as the consumer does, so the two cannot deadlock); null when nothing is left.
 * Only the chunk leaves the database (a JSON path slice of the stored list).
 */
export async function lockNextChunk(tx: EntityManager, requestId: string, stepId: string, size: number): Promise<{ from: number; total: number; items: unknown[] } | null> {
  const [row] = await preparedQuery<{ emitted: number; total: number; chunk: string }>(
    tx,
    'act_fan_out_chunk',
    `SELECT "emitted", "total",
            jsonb_path_query_array("items", ('$[' || "emitted" || ' to ' || (LEAST("emitted" + $3, "total") - 1) || ']')::jsonpath)::text AS chunk
       FROM "act"."fan_outs" WHERE "request_id" = $1 AND "step_id" = $2 AND "emitting" FOR UPDATE`,
    [requestId, stepId, size],
  );
  if (!row) return null;
  return { from: row.emitted, total: row.total, items: JSON.parse(row.chunk) as unknown[] };
}

/** Records how far a fan-out's items were emitted; `emitting` false stops it (all emitted, or the step no longer wants them). */
export async function markEmitted(tx: EntityManager, requestId: string, stepId: string, emitted: number, emitting: boolean): Promise<void> {
  await preparedQuery(
    tx,
    'act_fan_out_emitted',
    `UPDATE "act"."fan_outs" SET "emitted" = $3, "emitting" = $4 WHERE "request_id" = $1 AND "step_id" = $2`,
    [requestId, stepId, emitted, emitting],
  );
}

/** One item's task ended: completed with its output, or dead. */
export interface ItemEnd {
  requestId: string;
  stepId: string;
  index: number;
  status: 'completed' | 'dead';
  output: Record<string, unknown> | null;
}

/** A fan-out's counters after a batch of item ends, for the fan-outs whose step is still running. */
export interface FanOutCount {
  requestId: string;
  stepId: string;
  total: number;
  completed: number;
  failed: number;
}

/**
 * Records a consumer batch of item ends in one statement: each new end is inserted (a repeat of
 * an item already recorded is left out by the primary key), and each fan-out's counters move by
 * the batch's new ends. Only items of a fan-out whose step is still `ready` count; an item of a
 * step that failed or was cancelled is in the ledger, and nothing more. Returns the counters of
 * the fan-outs that moved.
 */
export async function recordItemEnds(tx: EntityManager, ends: ItemEnd[]): Promise<FanOutCount[]> {
  if (ends.length === 0) return [];
  const rows = await preparedQuery<{ request_id: string; step_id: string; total: number; completed: number; failed: number }>(
    tx,
    'act_fan_out_item_ends',
    `WITH ends AS (
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::jsonb[]) AS e(request_id, step_id, index, status, output)
     ),
     inserted AS (
       INSERT INTO "act"."fan_out_items" ("request_id", "step_id", "index", "status", "output")
       SELECT e.request_id, e.step_id, e.index, e.status, e.output
         FROM ends AS e
         JOIN "act"."request_steps" AS s ON s."request_id" = e.request_id AND s."step_id" = e.step_id AND s."status" = 'ready'
         JOIN "act"."fan_outs" AS f ON f."request_id" = e.request_id AND f."step_id" = e.step_id AND e.index < f."total"
       ON CONFLICT ON CONSTRAINT "fan_out_items_pkey" DO NOTHING
       RETURNING "request_id", "step_id", "status"
     ),
     counted AS (
       SELECT "request_id", "step_id", count(*) FILTER (WHERE "status" = 'completed')::int AS completed, count(*) FILTER (WHERE "status" = 'dead')::int AS failed
         FROM inserted GROUP BY "request_id", "step_id"
     )
     UPDATE "act"."fan_outs" AS f SET "completed" = f."completed" + c.completed, "failed" = f."failed" + c.failed
       FROM counted AS c WHERE f."request_id" = c."request_id" AND f."step_id" = c."step_id"
     RETURNING f."request_id", f."step_id", f."total", f."completed", f."failed"`,
    [
      ends.map((end) => end.requestId),
      ends.map((end) => end.stepId),
      ends.map((end) => end.index),
      ends.map((end) => end.status),
      ends.map((end) => (end.output === null ? null : JSON.stringify(end.output))),
    ],
  );
  return rows.map((row) => ({ requestId: row.request_id, stepId: row.step_id, total: row.total, completed: row.completed, failed: row.failed }));
}

/** How every item of a finished fan-out ended, by index (read once, when its last item ended). */
export async function fanOutOutcome(tx: EntityManager, requestId: string, stepId: string, total: number): Promise<FanOutOutcome> {
  const rows: Array<{ index: number; status: string; output: string | null }> = await tx.query(
    `SELECT "index", "status", "output"::text AS output FROM "act"."fan_out_items" WHERE "request_id" = $1 AND "step_id" = $2 ORDER BY "index"`,
    [requestId, stepId],
  );
  const outputs: FanOutOutcome['outputs'] = new Array(total).fill(null);
  const failed: number[] = [];
  for (const row of rows) {
    if (row.status === 'completed') outputs[row.index] = row.output === null ? {} : (JSON.parse(row.output) as Record<string, unknown>);
    else failed.push(row.index);
  }
  return { outputs, failed };
}

/** The counters of a request's fan-outs, by step id (for the request view). */
export async function fanOutCounts(tx: EntityManager, requestId: string): Promise<Map<string, { total: number; completed: number; failed: number }>> {
  const rows: Array<{ step_id: string; total: number; completed: number; failed: number }> = await tx.query(
    `SELECT "step_id", "total", "completed", "failed" FROM "act"."fan_outs" WHERE "request_id" = $1`,
    [requestId],
  );
  return new Map(rows.map((row) => [row.step_id, { total: row.total, completed: row.completed, failed: row.failed }]));
}
