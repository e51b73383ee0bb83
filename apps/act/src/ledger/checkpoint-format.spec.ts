import { generateKeyPairSync } from 'node:crypto';
import { CHECKPOINT_FORMAT, CheckpointError, CheckpointKeyring, CheckpointSigner, manifestDigest, parseShard, shardOf, shardText, type CheckpointManifest } from './checkpoint-format';

const aKey = () => generateKeyPairSync('ed25519').privateKey;

const manifest = (checkpoint = 1): CheckpointManifest => ({
  format: CHECKPOINT_FORMAT,
  checkpoint,
  at: '2026-11-20T12:00:00.000Z',
  previous: null,
  heads: 2,
  shards: { abc: 'a'.repeat(64), '0f1': 'b'.repeat(64) },
});

describe(CheckpointSigner.name, () => {
  it('signs a manifest that the keyring of its public key verifies', () => {
    const signer = new CheckpointSigner(aKey());
    const signed = signer.sign(manifest());
    expect(signed.keyId).toMatch(/^[0-9a-f]{16}$/);
    expect(new CheckpointKeyring([signer.publicKey]).verify(JSON.parse(JSON.stringify(signed)))).toEqual(manifest());
  });

  it('reads a PEM private key and refuses a key that is not Ed25519', () => {
    const pem = aKey().export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(CheckpointSigner.fromPem(pem).keyId).toBe(CheckpointSigner.fromPem(pem).keyId);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    expect(() => new CheckpointSigner(rsa)).toThrow(CheckpointError);
  });
});

describe(CheckpointKeyring.name, () => {
  const signer = new CheckpointSigner(aKey());
  const keyring = new CheckpointKeyring([signer.publicKey]);

  it.each([
    ['a changed head count', (m: CheckpointManifest) => ({ ...m, heads: 3 })],
    ['a changed shard digest', (m: CheckpointManifest) => ({ ...m, shards: { ...m.shards, abc: 'c'.repeat(64) } })],
    ['a renumbered checkpoint', (m: CheckpointManifest) => ({ ...m, checkpoint: 9 })],
  ])('refuses %s', (_label, change) => {
    const signed = signer.sign(manifest());
    expect(() => keyring.verify({ ...signed, manifest: change(signed.manifest) })).toThrow(/does not verify: the checkpoint was altered/);
  });

  it('refuses a checkpoint signed by a key it does not trust, and names the key', () => {
    const other = new CheckpointSigner(aKey()).sign(manifest());
    expect(() => keyring.verify(other)).toThrow(`signed by key ${other.keyId}, which is not trusted`);
  });

  it.each([
    ['no signature', { keyId: 'k', manifest: manifest() }],
    ['no manifest', { keyId: 'k', signature: 'c2ln' }],
    ['not an object', 'checkpoint'],
    ['null', null],
  ])('refuses a checkpoint with %s', (_label, signed) => {
    expect(() => keyring.verify(signed as never)).toThrow(CheckpointError);
  });

  it('refuses a signature made for another manifest under the same key id', () => {
    const { signature } = signer.sign(manifest(2));
    expect(() => keyring.verify({ ...signer.sign(manifest(1)), signature })).toThrow(CheckpointError);
  });

  it('verifies old checkpoints with a retired key after a rotation, by key id', () => {
    const retired = new CheckpointSigner(aKey());
    const current = new CheckpointSigner(aKey());
    const rotated = new CheckpointKeyring([current.publicKey, retired.publicKey]);
    expect(rotated.verify(retired.sign(manifest(1))).checkpoint).toBe(1);
    expect(rotated.verify(current.sign(manifest(2))).checkpoint).toBe(2);
  });
});

describe('checkpoint shards', () => {
  it('round-trips heads in request-id order and places a request in one of 4096 shards', () => {
    const heads = new Map([
      ['f0000000-0000-4000-8000-000000000000', { entries: 3, hash: 'a'.repeat(64) }],
      ['00000000-0000-4000-8000-000000000000', { entries: 12, hash: 'b'.repeat(64) }],
    ]);
    const text = shardText(heads);
    expect(text.split('\n')[0]).toMatch(/^00000000-/);
    expect(parseShard(text)).toEqual(heads);
    expect(shardOf('F0000000-0000-4000-8000-000000000000')).toBe(shardOf('f0000000-0000-4000-8000-000000000000'));
    expect(shardOf('f0000000-0000-4000-8000-000000000000')).toMatch(/^[0-9a-f]{3}$/);
  });

  it('digests a manifest independently of its key order', () => {
    const m = manifest();
    expect(manifestDigest({ ...m, shards: { '0f1': m.shards['0f1'], abc: m.shards.abc } })).toBe(manifestDigest(m));
  });
});
