import { ancestorsOf, dependenciesOf, findCycles } from './plan-graph';

describe('dependenciesOf', () => {
  it('makes each step without `after` wait for the previous one', () => {
    expect(dependenciesOf([{ id: 'a' }, { id: 'b' }, { id: 'c' }])).toEqual(
      new Map([
        ['a', []],
        ['b', ['a']],
        ['c', ['b']],
      ]),
    );
  });

  it('starts steps with `after: []` at once and keeps explicit lists', () => {
    expect(dependenciesOf([{ id: 'a' }, { id: 'b', after: [] }, { id: 'c', after: ['a', 'b'] }])).toEqual(
      new Map([
        ['a', []],
        ['b', []],
        ['c', ['a', 'b']],
      ]),
    );
  });

  it('keeps the first of duplicate ids', () => {
    expect(dependenciesOf([{ id: 'a' }, { id: 'a', after: ['x'] }]).get('a')).toEqual([]);
  });
});

describe('findCycles', () => {
  it('finds none in a DAG', () => {
    expect(findCycles(dependenciesOf([{ id: 'a' }, { id: 'b', after: [] }, { id: 'c', after: ['a', 'b'] }]))).toEqual([]);
  });

  it('finds a cycle once, whichever step it is entered from', () => {
    const deps = dependenciesOf([
      { id: 'a', after: ['c'] },
      { id: 'b', after: ['a'] },
      { id: 'c', after: ['b'] },
    ]);
    expect(findCycles(deps)).toEqual([['a', 'b', 'c']]);
  });

  it('finds a step that depends on itself', () => {
    expect(findCycles(dependenciesOf([{ id: 'a', after: ['a'] }]))).toEqual([['a']]);
  });

  it('finds separate cycles separately and ignores unknown ids', () => {
    const deps = dependenciesOf([
      { id: 'a', after: ['b'] },
      { id: 'b', after: ['a', 'ghost'] },
      { id: 'c', after: ['d'] },
      { id: 'd', after: ['c'] },
    ]);
    expect(findCycles(deps)).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
  });
});

describe('ancestorsOf', () => {
  it('collects transitive dependencies only', () => {
    const deps = dependenciesOf([{ id: 'a' }, { id: 'b' }, { id: 'side', after: [] }, { id: 'c', after: ['b'] }]);
    expect(ancestorsOf(deps, 'c')).toEqual(new Set(['a', 'b']));
    expect(ancestorsOf(deps, 'side')).toEqual(new Set());
  });

  it('terminates on cycles', () => {
    const deps = dependenciesOf([
      { id: 'a', after: ['b'] },
      { id: 'b', after: ['a'] },
    ]);
    expect(ancestorsOf(deps, 'a')).toEqual(new Set(['a', 'b']));
  });
});
