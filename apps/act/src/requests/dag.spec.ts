import type { StepStatus } from '@hms/contracts';
import { allStepsSettled, readySteps } from './dag';

const statuses = (entries: Record<string, StepStatus>) => new Map(Object.entries(entries));

describe('readySteps', () => {
  const sequence = [{ id: 'a' }, { id: 'b' }, { id: 'c' }];
  const diamond = [{ id: 'start' }, { id: 'left', after: ['start'] }, { id: 'right', after: ['start'] }, { id: 'join', after: ['left', 'right'] }];
  const parallel = [{ id: 'x', after: [] }, { id: 'y', after: [] }, { id: 'z' }];

  it.each<[string, Array<{ id: string; after?: string[] }>, Record<string, StepStatus>, string[]]>([
    ['the first step of a sequence starts at once', sequence, { a: 'pending', b: 'pending', c: 'pending' }, ['a']],
    ['a step without after waits for the previous one', sequence, { a: 'ready', b: 'pending', c: 'pending' }, []],
    ['a done step releases the next one', sequence, { a: 'done', b: 'pending', c: 'pending' }, ['b']],
    ['a skipped step releases the next one too', sequence, { a: 'skipped', b: 'pending', c: 'pending' }, ['b']],
    ['a failed step releases nothing', sequence, { a: 'failed', b: 'pending', c: 'pending' }, []],
    ['a cancelled step releases nothing', sequence, { a: 'cancelled', b: 'pending', c: 'pending' }, []],
    ['only pending steps are returned', sequence, { a: 'done', b: 'ready', c: 'pending' }, []],
    ['both branches of a diamond start together', diamond, { start: 'done', left: 'pending', right: 'pending', join: 'pending' }, ['left', 'right']],
    ['a join waits for every branch', diamond, { start: 'done', left: 'done', right: 'ready', join: 'pending' }, []],
    ['a join starts when every branch is settled', diamond, { start: 'done', left: 'done', right: 'skipped', join: 'pending' }, ['join']],
    ['after: [] starts at once, in plan order', parallel, { x: 'pending', y: 'pending', z: 'pending' }, ['x', 'y']],
    ['a default after follows the previous step even after parallel ones', parallel, { x: 'ready', y: 'done', z: 'pending' }, ['z']],
  ])('%s', (_name, steps, state, expected) => {
    expect(readySteps(steps, statuses(state))).toEqual(expected);
  });
});

describe('allStepsSettled', () => {
  const steps = [{ id: 'a' }, { id: 'b' }];

  it.each<[Record<string, StepStatus>, boolean]>([
    [{ a: 'done', b: 'done' }, true],
    [{ a: 'done', b: 'skipped' }, true],
    [{ a: 'done', b: 'ready' }, false],
    [{ a: 'done', b: 'failed' }, false],
    [{ a: 'done', b: 'cancelled' }, false],
    [{ a: 'done' }, false],
  ])('%j → %s', (state, expected) => {
    expect(allStepsSettled(steps, statuses(state))).toBe(expected);
  });
});
