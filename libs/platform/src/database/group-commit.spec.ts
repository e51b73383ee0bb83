import { GroupCommit, type Settled } from './group-commit';

interface Item {
  key: string;
  value: number;
}

/** A commit function that records its batches and answers each item by `answer`. */
function recorder(answer: (item: Item) => Settled<number> = (item) => ({ ok: true, value: item.value * 10 })) {
  const batches: Item[][] = [];
  let release: (() => void) | undefined;
  let gate: Promise<void> | undefined;
  return {
    batches,
    /** Holds the next commits until `open()`, to let calls pile up behind one in flight. */
    hold() {
      gate = new Promise((resolve) => (release = resolve));
    },
    open() {
      release?.();
      gate = undefined;
    },
    commit: async (items: Item[]): Promise<Array<Settled<number>>> => {
      batches.push(items);
      if (gate) await gate;
      return items.map(answer);
    },
  };
}

const item = (value: number, key = `k${value}`): Item => ({ key, value });

describe('GroupCommit', () => {
  it('commits the calls made together in one batch, and answers each', async () => {
    const r = recorder();
    const group = new GroupCommit(r.commit, { maxBatch: 10 });
    await expect(Promise.all([1, 2, 3].map((v) => group.submit(item(v))))).resolves.toEqual([10, 20, 30]);
    expect(r.batches).toEqual([[item(1), item(2), item(3)]]);
  });

  it('puts the calls that arrive during a commit into the next batch', async () => {
    const r = recorder();
    const group = new GroupCommit(r.commit, { maxBatch: 10 });
    r.hold();
    const first = group.submit(item(1));
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.batches).toEqual([[item(1)]]);
    const later = [2, 3, 4].map((v) => group.submit(item(v)));
    r.open();
    await expect(Promise.all([first, ...later])).resolves.toEqual([10, 20, 30, 40]);
    expect(r.batches).toEqual([[item(1)], [item(2), item(3), item(4)]]);
  });

  it('never puts more than maxBatch items in a batch', async () => {
    const r = recorder();
    const group = new GroupCommit(r.commit, { maxBatch: 2 });
    await Promise.all([1, 2, 3, 4, 5].map((v) => group.submit(item(v))));
    expect(r.batches.map((b) => b.map((i) => i.value))).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('keeps two items with the same key out of one batch, in submission order', async () => {
    const r = recorder();
    const group = new GroupCommit(r.commit, { maxBatch: 10, keyOf: (i: Item) => i.key });
    await Promise.all([item(1, 'a'), item(2, 'a'), item(3, 'b')].map((i) => group.submit(i)));
    expect(r.batches.map((b) => b.map((i) => i.value))).toEqual([[1, 3], [2]]);
  });

  it('stops a batch before its items weigh more than maxWeight; an item heavier than that goes alone', async () => {
    const r = recorder();
    const group = new GroupCommit(r.commit, { maxBatch: 10, weightOf: (i: Item) => i.value, maxWeight: 5 });
    await Promise.all([1, 2, 9, 3, 1].map((v, n) => group.submit(item(v, `k${n}`))));
    expect(r.batches.map((b) => b.map((i) => i.value))).toEqual([[1, 2, 1], [9], [3]]);
  });

  it('keeps the later items of a key left out for its weight out of that batch too', async () => {
    const r = recorder();
    const group = new GroupCommit(r.commit, { maxBatch: 10, keyOf: (i: Item) => i.key, weightOf: (i: Item) => i.value, maxWeight: 5 });
    await Promise.all([item(4, 'a'), item(3, 'b'), item(1, 'b'), item(1, 'c')].map((i) => group.submit(i)));
    expect(r.batches.map((b) => b.map((i) => i.key + i.value))).toEqual([['a4', 'c1'], ['b3'], ['b1']]);
  });

  it("gives an item's own error to its caller only", async () => {
    const refused = new Error('stale lease');
    const r = recorder((i) => (i.value === 2 ? { ok: false, error: refused } : { ok: true, value: i.value }));
    const group = new GroupCommit(r.commit, { maxBatch: 10 });
    const results = await Promise.allSettled([1, 2, 3].map((v) => group.submit(item(v))));
    expect(results).toEqual([
      { status: 'fulfilled', value: 1 },
      { status: 'rejected', reason: refused },
      { status: 'fulfilled', value: 3 },
    ]);
    expect(r.batches).toHaveLength(1);
  });

  it('commits each item alone when the batch as a whole fails, so only the bad one fails', async () => {
    const batches: number[][] = [];
    const broken = new Error('deadlock detected');
    const group = new GroupCommit<Item, number>(
      async (items) => {
        const values = items.map((i) => i.value);
        batches.push(values);
        if (values.includes(2)) throw broken;
        return values.map((value) => ({ ok: true, value }));
      },
      { maxBatch: 10 },
    );
    const results = await Promise.allSettled([1, 2, 3].map((v) => group.submit(item(v))));
    expect(results).toEqual([
      { status: 'fulfilled', value: 1 },
      { status: 'rejected', reason: broken },
      { status: 'fulfilled', value: 3 },
    ]);
    expect(batches).toEqual([[1, 2, 3], [1], [2], [3]]);
  });

  it('keeps going after a failed batch', async () => {
    let fail = true;
    const group = new GroupCommit<Item, number>(
      async (items) => {
        if (fail) throw new Error('connection lost');
        return items.map((i) => ({ ok: true, value: i.value }));
      },
      { maxBatch: 10 },
    );
    await expect(group.submit(item(1))).rejects.toThrow('connection lost');
    fail = false;
    await expect(group.submit(item(2))).resolves.toBe(2);
  });
});
