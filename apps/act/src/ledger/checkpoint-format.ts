import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJson, sha256Hex } from '../common/canonical-json';
import type { ChainHead } from './hash-chain';

/**
 * A checkpoint signs the heads of every chain without rewriting them all each time: the heads
 * are split into {@link CHECKPOINT_SHARD_COUNT} shards by a hash of the request id, each shard is
 * a content-addressed file, and the signed manifest lists the shards' digests. A checkpoint
 * rewrites only the shards whose heads changed since the previous one and carries the others
 * over by digest; verifying one request reads the manifest and one shard. With a million
 * requests a shard holds about 250 heads (some 25 KB).
 */
export const CHECKPOINT_SHARD_COUNT = 4096;

export const CHECKPOINT_FORMAT = 'hms-ledger-checkpoint/1';

/** The signed content of a checkpoint. */
export interface CheckpointManifest {
  format: typeof CHECKPOINT_FORMAT;
  /** 1, 2, 3… in the order written. */
  checkpoint: number;
  at: string;
  /** Digest of the previous checkpoint's manifest (null for the first), so the checkpoints form a chain too. */
  previous: string | null;
  /** Heads held, across all shards. */
  heads: number;
  /** Shard (three hex digits) → sha-256 of its file. Shards without heads are absent. */
  shards: Record<string, string>;
}

/** A checkpoint as stored: the manifest, the id of the key that signed it, the signature. */
export interface SignedCheckpoint {
  manifest: CheckpointManifest;
  keyId: string;
  /** Ed25519 over the canonical JSON of the manifest, base64. */
  signature: string;
}

/** A checkpoint that cannot be trusted (unknown key, bad signature, a shard that does not match). */
export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

export function shardOf(requestId: string): string {
  return createHash('sha256').update(requestId.toLowerCase()).digest('hex').slice(0, 3);
}

/** A shard's file: one `request_id entries hash` line per head, in request-id order. */
export function shardText(heads: Map<string, ChainHead>): string {
  return [...heads.keys()]
    .sort()
    .map((id) => `${id} ${heads.get(id)!.entries} ${heads.get(id)!.hash}\n`)
    .join('');
}

export function parseShard(text: string): Map<string, ChainHead> {
  const heads = new Map<string, ChainHead>();
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [id, entries, hash] = line.split(' ');
    heads.set(id, { entries: Number(entries), hash });
  }
  return heads;
}

export function manifestDigest(manifest: CheckpointManifest): string {
  return sha256Hex(canonicalJson(manifest));
}

/** The id of a public key: the start of the sha-256 of its SPKI encoding. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

/** Signs checkpoints with an Ed25519 private key (which the database never sees). */
export class CheckpointSigner {
  readonly publicKey: KeyObject;
  readonly keyId: string;

  constructor(private readonly privateKey: KeyObject) {
    if (privateKey.asymmetricKeyType !== 'ed25519') throw new CheckpointError(`the checkpoint key must be Ed25519, not ${privateKey.asymmetricKeyType}`);
    this.publicKey = createPublicKey(privateKey);
    this.keyId = keyIdOf(this.publicKey);
  }

  static fromPem(pem: string): CheckpointSigner {
    return new CheckpointSigner(createPrivateKey(pem));
  }

  sign(manifest: CheckpointManifest): SignedCheckpoint {
    return { manifest, keyId: this.keyId, signature: sign(null, Buffer.from(canonicalJson(manifest)), this.privateKey).toString('base64') };
  }
}

/** The public keys checkpoints are verified with, by key id: the current one and those retired. */
export class CheckpointKeyring {
  private readonly keys = new Map<string, KeyObject>();

  constructor(publicKeys: KeyObject[]) {
    for (const key of publicKeys) {
      if (key.asymmetricKeyType !== 'ed25519') throw new CheckpointError(`a checkpoint public key must be Ed25519, not ${key.asymmetricKeyType}`);
      this.keys.set(keyIdOf(key), key);
    }
  }

  static fromPems(pems: string[]): CheckpointKeyring {
    return new CheckpointKeyring(pems.map((pem) => createPublicKey(pem)));
  }

  get size(): number {
    return this.keys.size;
  }

  /** The manifest of a checkpoint whose signature holds; throws otherwise. */
  verify(signed: SignedCheckpoint): CheckpointManifest {
    if (typeof signed?.keyId !== 'string' || typeof signed.signature !== 'string' || typeof signed.manifest !== 'object' || signed.manifest === null) {
      throw new CheckpointError('a checkpoint must hold a manifest, a keyId and a signature: it was altered');
    }
    const key = this.keys.get(signed.keyId);
    if (!key) throw new CheckpointError(`checkpoint ${signed.manifest.checkpoint} is signed by key ${signed.keyId}, which is not trusted`);
    if (signed.manifest.format !== CHECKPOINT_FORMAT) throw new CheckpointError(`checkpoint format ${String(signed.manifest.format)} is not ${CHECKPOINT_FORMAT}`);
    if (!verify(null, Buffer.from(canonicalJson(signed.manifest)), key, Buffer.from(signed.signature, 'base64'))) {
      throw new CheckpointError(`the signature of checkpoint ${signed.manifest.checkpoint} does not verify: the checkpoint was altered`);
    }
    return signed.manifest;
  }
}
