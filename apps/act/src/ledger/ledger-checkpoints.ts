import { createPublicKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, LOGGER, type Clock } from '@hms/platform';
import type { Logger } from 'pino';
import { DataSource, type EntityManager } from 'typeorm';
import { ActConfig } from '../act.config';
import { sha256Hex } from '../common/canonical-json';
import {
  CHECKPOINT_FORMAT,
  CheckpointError,
  CheckpointKeyring,
  CheckpointSigner,
  manifestDigest,
  parseShard,
  shardOf,
  shardText,
  type CheckpointManifest,
  type SignedCheckpoint,
} from './checkpoint-format';
import { FolderCheckpointSink, type CheckpointSink } from './checkpoint-sink';
import type { ChainExpectations, ChainHead } from './hash-chain';

/** Most heads one checkpoint takes; a longer backlog is written by the checkpoints right after. */
export const CHECKPOINT_BATCH = 50_000;

/** The name of a checkpoint's manifest in the sink. */
const checkpointName = (n: number) => `checkpoints/${String(n).padStart(12, '0')}.json`;
const shardName = (digest: string) => `shards/${digest}`;
const LATEST = 'latest';

/*
 * One replica writes checkpoints at a time: a transaction-scoped advisory lock, tried (a replica
 * that does not get it skips its turn). Holding it across the sink writes keeps two checkpoints
 * from both calling themselves n+1.
 */
const TRY_LOCK_SQL = `SELECT pg_try_advisory_xact_lock(hashtext('act.ledger-checkpoint')) AS "locked"`;

/** The heads changed since they were last checkpointed, by the partial index `ledger_heads_unchecked_idx`. */
const UNCHECKED_HEADS_SQL = `
SELECT "request_id", "entries", "hash" FROM "act"."ledger_heads" WHERE "unchecked" ORDER BY "request_id" LIMIT $1`;

/**
 * Marks what the checkpoint holds, set-based; a head that moved on meanwhile stays for the next
 * one (an append holding the row makes this re-read it, so `h."entries"` is the moved head).
 */
const MARK_CHECKPOINTED_SQL = `
UPDATE "act"."ledger_heads" AS h SET "checkpointed_entries" = c."entries", "unchecked" = h."entries" <> c."entries"
FROM jsonb_to_recordset($1::jsonb) AS c("request_id" uuid, "entries" int)
WHERE h."request_id" = c."request_id"`;

function readPem(value: string): string {
  return value.includes('-----BEGIN') ? value : readFileSync(value, 'utf8');
}

/**
 * Signed checkpoints of the ledger's chain heads, in a sink outside the database
 * (docs/security.md, "The ledger"): writing the next one, and reading a request's head from the
 * latest one for verify.
 */
@Injectable()
export class LedgerCheckpoints {
  private readonly sink?: CheckpointSink;
  private readonly signer?: CheckpointSigner;
  private readonly keyring: CheckpointKeyring;
  /** Verified manifests and shards, by checkpoint number and digest: both are written once. */
  private readonly manifests = new Map<number, CheckpointManifest>();
  private readonly shards = new Map<string, Map<string, ChainHead>>();

  constructor(
    private readonly dataSource: DataSource,
    config: ActConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    if (config.ACT_LEDGER_CHECKPOINT_DIR) this.sink = new FolderCheckpointSink(config.ACT_LEDGER_CHECKPOINT_DIR);
    if (config.ACT_LEDGER_CHECKPOINT_KEY) this.signer = CheckpointSigner.fromPem(readPem(config.ACT_LEDGER_CHECKPOINT_KEY));
    const retired = (config.ACT_LEDGER_CHECKPOINT_TRUSTED_KEYS ?? '').split(',').map((path) => path.trim()).filter(Boolean);
    for (const path of retired) if (!existsSync(path)) throw new CheckpointError(`ACT_LEDGER_CHECKPOINT_TRUSTED_KEYS: ${path} does not exist`);
    this.keyring = new CheckpointKeyring([...(this.signer ? [this.signer.publicKey] : []), ...retired.map((path) => createPublicKey(readFileSync(path, 'utf8')))]);
  }

  /** Whether this replica writes checkpoints (a sink and a signing key). */
  get writes(): boolean {
    return !!this.sink && !!this.signer;
  }

  /** The latest checkpoint's manifest, its signature checked; undefined when none was written. */
  async latest(): Promise<CheckpointManifest | undefined> {
    if (!this.sink) return undefined;
    const pointer = await this.sink.read(LATEST);
    if (!pointer) return undefined;
    const n = Number(pointer.toString('utf8').trim());
    if (!Number.isSafeInteger(n) || n < 1) throw new CheckpointError(`the latest checkpoint pointer '${pointer.toString('utf8').slice(0, 40)}' is not a checkpoint number`);
    const cached = this.manifests.get(n);
    if (cached) return cached;
    const file = await this.sink.read(checkpointName(n));
    if (!file) throw new CheckpointError(`checkpoint ${n} is named latest but is missing`);
    let signed: SignedCheckpoint;
    try {
      signed = JSON.parse(file.toString('utf8')) as SignedCheckpoint;
    } catch {
      throw new CheckpointError(`checkpoint ${n} is not JSON: it was altered`);
    }
    const manifest = this.keyring.verify(signed);
    if (manifest.checkpoint !== n) throw new CheckpointError(`checkpoint file ${n} holds checkpoint ${manifest.checkpoint}`);
    this.manifests.set(n, manifest);
    return manifest;
  }

  /** What the latest checkpoint holds of a request's chain; undefined when no checkpoint holds it. */
  async headOf(requestId: string): Promise<ChainExpectations['checkpoint']> {
    const manifest = await this.latest();
    if (!manifest) return undefined;
    const digest = manifest.shards[shardOf(requestId)];
    if (!digest) return undefined;
    const head = (await this.shard(digest)).get(requestId.toLowerCase());
    return head && { ...head, checkpoint: manifest.checkpoint, at: manifest.at };
  }

  private async shard(digest: string): Promise<Map<string, ChainHead>> {
    const cached = this.shards.get(digest);
    if (cached) return cached;
    const file = await this.sink!.read(shardName(digest));
    if (!file) throw new CheckpointError(`checkpoint shard ${digest} is missing`);
    const text = file.toString('utf8');
    if (sha256Hex(text) !== digest) throw new CheckpointError(`checkpoint shard ${digest} does not match its digest: it was altered`);
    return this.remember(digest, parseShard(text));
  }

  /** Shards are small, but verifying every request would hold them all: only the recent ones are kept. */
  private remember(digest: string, heads: Map<string, ChainHead>): Map<string, ChainHead> {
    if (this.shards.size >= 256) this.shards.delete(this.shards.keys().next().value!);
    this.shards.set(digest, heads);
    return heads;
  }

  /**
   * Writes the next checkpoint: the heads changed since the last one, merged into the shards they
   * fall in, the others carried over. Returns how many heads it took (0: nothing to do, or another
   * replica is writing).
   */
  async write(): Promise<number> {
    if (!this.sink || !this.signer) return 0;
    const sink = this.sink;
    const signer = this.signer;
    return this.dataSource.transaction(async (tx: EntityManager) => {
      const [{ locked }] = (await tx.query(TRY_LOCK_SQL)) as Array<{ locked: boolean }>;
      if (!locked) return 0;
      const changed = (await tx.query(UNCHECKED_HEADS_SQL, [CHECKPOINT_BATCH])) as Array<{ request_id: string; entries: number; hash: string }>;
      if (changed.length === 0) return 0;
      const previous = await this.latest();
      const byShard = new Map<string, typeof changed>();
      for (const head of changed) byShard.set(shardOf(head.request_id), [...(byShard.get(shardOf(head.request_id)) ?? []), head]);
      const shards = { ...(previous?.shards ?? {}) };
      for (const [shard, heads] of byShard) {
        const merged = new Map(shards[shard] ? await this.shard(shards[shard]) : []);
        for (const head of heads) merged.set(head.request_id.toLowerCase(), { entries: head.entries, hash: head.hash });
        const text = shardText(merged);
        const digest = sha256Hex(text);
        await sink.write(shardName(digest), text);
        this.remember(digest, merged);
        shards[shard] = digest;
      }
      const heads = await this.countHeads(shards, previous, byShard);
      const manifest: CheckpointManifest = {
        format: CHECKPOINT_FORMAT,
        checkpoint: (previous?.checkpoint ?? 0) + 1,
        at: this.clock.now().toISOString(),
        previous: previous ? manifestDigest(previous) : null,
        heads,
        shards,
      };
      await sink.write(checkpointName(manifest.checkpoint), JSON.stringify(signer.sign(manifest)));
      await sink.write(LATEST, `${manifest.checkpoint}\n`);
      this.manifests.set(manifest.checkpoint, manifest);
      await tx.query(MARK_CHECKPOINTED_SQL, [JSON.stringify(changed.map((h) => ({ request_id: h.request_id, entries: h.entries })))]);
      this.logger.info({ checkpoint: manifest.checkpoint, changedHeads: changed.length, shards: byShard.size, heads }, 'ledger checkpoint written');
      return changed.length;
    });
  }

  /** The previous count, plus the heads new to the rewritten shards. */
  private async countHeads(shards: Record<string, string>, previous: CheckpointManifest | undefined, rewritten: Map<string, unknown>): Promise<number> {
    let heads = previous?.heads ?? 0;
    for (const shard of rewritten.keys()) {
      const before = previous?.shards[shard];
      heads += (await this.shard(shards[shard])).size - (before ? (await this.shard(before)).size : 0);
    }
    return heads;
  }
}
