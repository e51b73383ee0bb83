import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * Where signed checkpoints are kept, outside the database: a folder by default. Names are
 * relative paths (`latest`, `checkpoints/000000000042.json`, `shards/<sha-256>`). Every name but
 * `latest` is written once. In production an object store implements this with a bucket whose
 * object lock (WORM) keeps checkpoints from being rewritten or deleted: `read` is GetObject
 * (undefined on NoSuchKey), `write` is PutObject.
 */
export interface CheckpointSink {
  read(name: string): Promise<Buffer | undefined>;
  write(name: string, data: string): Promise<void>;
}

/** A folder (a mounted volume shared by ACT's replicas). */
export class FolderCheckpointSink implements CheckpointSink {
  private readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  async read(name: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.path(name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** Written to a temporary name and renamed, so a reader never sees half a file. */
  async write(name: string, data: string): Promise<void> {
    const path = this.path(name);
    await mkdir(dirname(path), { recursive: true });
    const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(temporary, data, { flush: true });
    await rename(temporary, path);
  }

  private path(name: string): string {
    const path = resolve(join(this.root, name));
    if (!path.startsWith(`${this.root}/`)) throw new Error(`checkpoint name '${name}' is outside the sink`);
    return path;
  }
}
