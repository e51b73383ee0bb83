import { consecutiveRuns } from './event-consumer';

describe('consecutiveRuns (how a batch reaches handleMany)', () => {
  const typeOf = (event: string) => (event.startsWith('ready') ? 'ready' : null);

  it('groups consecutive items of one key and keeps the order of the batch', () => {
    const batch = ['ready-1', 'ready-2', 'cancelled-1', 'ready-3', 'completed-1', 'cancelled-2', 'ready-4'];
    expect(consecutiveRuns(batch, typeOf)).toEqual([
      { key: 'ready', items: ['ready-1', 'ready-2'] },
      { key: null, items: ['cancelled-1'] },
      { key: 'ready', items: ['ready-3'] },
      { key: null, items: ['completed-1', 'cancelled-2'] },
      { key: 'ready', items: ['ready-4'] },
    ]);
  });

  it('hands a batch of one type over as one run, and nothing for an empty batch', () => {
    expect(consecutiveRuns(['ready-1', 'ready-2', 'ready-3'], typeOf)).toEqual([{ key: 'ready', items: ['ready-1', 'ready-2', 'ready-3'] }]);
    expect(consecutiveRuns([], typeOf)).toEqual([]);
  });
});
