import { pageThatFits } from './page-fit';

interface Row {
  id: number;
  blob: string;
}

const rows = (count: number, bytes: number): Row[] => Array.from({ length: count }, (_, i) => ({ id: i + 1, blob: 'x'.repeat(bytes) }));
const page = (found: Row[], limit: number, maxPayload: number) => pageThatFits(found, limit, (row) => row, (last) => String(last.id), maxPayload);

describe(pageThatFits.name, () => {
  it('returns the whole page when it fits, with a cursor only when more rows follow', () => {
    expect(page(rows(3, 10), 3, 64 * 1024)).toEqual({ items: rows(3, 10), nextCursor: null });
    expect(page(rows(4, 10), 3, 64 * 1024)).toEqual({ items: rows(3, 10), nextCursor: '3' });
  });

  it('shortens a page that would not fit, and continues after its last item', () => {
    const found = rows(5, 20_000);
    const shortened = page(found, 4, 64 * 1024);
    expect(shortened.items.map((row) => row.id)).toEqual([1, 2, 3]);
    expect(shortened.nextCursor).toBe('3');
    const exact = page(rows(3, 20_000), 3, 64 * 1024);
    expect(exact.nextCursor).toBeNull();
  });

  it('keeps at least one item, even one too large for any answer (the RPC server then answers 413)', () => {
    expect(page(rows(2, 100_000), 2, 64 * 1024)).toEqual({ items: rows(1, 100_000), nextCursor: '1' });
  });
});
