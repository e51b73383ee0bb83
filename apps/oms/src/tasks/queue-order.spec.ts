import { compareQueueOrder, type QueueOrderKey } from './queue-order';

const at = (minutes: number) => new Date(Date.UTC(2026, 10, 21, 12, minutes));
const task = (id: string, priority: number, pickBy: number, available: number): QueueOrderKey => ({
  id,
  priority,
  pick_by: at(pickBy),
  available_at: at(available),
});

describe('queue order', () => {
  it('puts priority first, then the nearest deadline, then the longest waiting, then id', () => {
    const tasks = [
      task('e', 0, 30, 1),
      task('b', 5, 50, 9),
      task('d', 0, 10, 8),
      task('c', 0, 10, 2),
      task('a', 9, 59, 59),
      task('f', 0, 30, 1),
      task('g', -1, 0, 0),
    ];
    expect([...tasks].sort(compareQueueOrder).map((t) => t.id)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
  });

  it('is a consistent comparator (antisymmetric, zero only for the same task)', () => {
    const x = task('x', 1, 5, 5);
    const y = task('y', 1, 5, 5);
    expect(Math.sign(compareQueueOrder(x, y))).toBe(-Math.sign(compareQueueOrder(y, x)));
    expect(compareQueueOrder(x, x)).toBe(0);
    expect(compareQueueOrder(x, y)).not.toBe(0);
  });
});
