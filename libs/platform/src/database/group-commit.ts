/** What one item of a batch came to: its own answer, or its own error. */
export type Settled<R> = { ok: true; value: R } | { ok: false; error: unknown };

export interface GroupCommitOptions<I> {
  /** Most items committed together. */
  maxBatch: number;
  /**
   * Items with the same key never share a batch (a repeated call must see the first one's
   * commit, not race it inside one statement); the later one waits for the next batch. An item
   * without a key (undefined) may share a batch with any other.
   */
  keyOf?: (item: I) => string | undefined;
  /**
   * With `maxWeight`: a batch takes no more items once their weights (such as their bytes) would
   * pass it, so large items share a statement with fewer others; an item heavier than
   * `maxWeight` goes alone.
   */
  weightOf?: (item: I) => number;
  maxWeight?: number;
}

/**
 * Group commit: callers submit items one at a time, and the items that arrive while a batch is
 * being committed go together in the next one. Nothing waits for a timer: a lone item goes at
 * once, and under load a batch forms from the calls that arrived during the previous commit, so
 * commits per item fall as concurrency rises.
 *
 * Items carry what their commit needs from their caller (such as its trace headers): the batch
 * runs in the context of whichever call started it.
 *
 * `commit` answers each item separately (a stale lease in a batch fails only its own call). If it
 * throws, the transaction as a whole failed (a deadlock, a lost connection), and each item is
 * committed again on its own, so one item's trouble reaches only that item's caller.
 */
export class GroupCommit<I, R> {
  private pending: Array<{ item: I; resolve: (value: R) => void; reject: (error: unknown) => void }> = [];
  private draining = false;

  constructor(
    private readonly commit: (items: I[]) => Promise<Array<Settled<R>>>,
    private readonly options: GroupCommitOptions<I>,
  ) {}

  submit(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.draining) {
        this.draining = true;
        // Let the calls already read from the socket join the first batch.
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0) await this.commitNext(this.takeBatch());
    } finally {
      this.draining = false;
    }
  }

  private takeBatch(): typeof this.pending {
    const batch: typeof this.pending = [];
    const keys = new Set<string>();
    const rest: typeof this.pending = [];
    const { keyOf, weightOf, maxWeight = Infinity, maxBatch } = this.options;
    let weight = 0;
    for (const entry of this.pending) {
      const key = keyOf?.(entry.item);
      const itemWeight = weightOf?.(entry.item) ?? 0;
      const taken = batch.length < maxBatch && (key === undefined || !keys.has(key)) && (batch.length === 0 || weight + itemWeight <= maxWeight);
      // A key left for later stays there for its later items too: they go after it, in order.
      if (key !== undefined) keys.add(key);
      if (!taken) {
        rest.push(entry);
        continue;
      }
      weight += itemWeight;
      batch.push(entry);
    }
    this.pending = rest;
    return batch;
  }

  private async commitNext(batch: typeof this.pending): Promise<void> {
    let results: Array<Settled<R>>;
    try {
      results = await this.commit(batch.map((entry) => entry.item));
    } catch (error) {
      if (batch.length === 1) return batch[0]!.reject(error);
      for (const entry of batch) await this.commitNext([entry]);
      return;
    }
    batch.forEach((entry, i) => {
      const result = results[i]!;
      if (result.ok) entry.resolve(result.value);
      else entry.reject(result.error);
    });
  }
}
