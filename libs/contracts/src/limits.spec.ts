import 'reflect-metadata';
import { getMetadataStorage, IsObject, validateSync } from 'class-validator';
import { plainToInstance } from 'class-transformer';
import {
  configureLimits,
  DEFAULT_LIMITS,
  findJsonProblem,
  IsBoundedJson,
  isSafeText,
  limits,
  SIZE_CONSTRAINTS,
  utf8ByteLength,
} from './limits';
import { RpcRequestClasses } from './rpc-validation';
import { AutoscalePolicy, EscalationPolicy, ScaleTarget } from './pools.messages';
import { NextLease, TaskCompletion, TaskErrorInfo } from './tasks.messages';
import { CreateRequestsCommand } from './requests.messages';

/** Nested message classes validated through `@ValidateNested` (not in the subject table themselves). */
const NESTED_CLASSES = [AutoscalePolicy, EscalationPolicy, ScaleTarget, TaskErrorInfo, TaskCompletion, NextLease];

function nested(depth: number, leaf: unknown = 1): unknown {
  let value: unknown = leaf;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

describe('isSafeText', () => {
  it.each([
    ['plain ascii', 'hello', true],
    ['accents and CJK', 'Łódź 東京', true],
    ['a surrogate pair (emoji)', 'ok 👍', true],
    ['empty', '', true],
    ['a NUL character', 'a\u0000b', false],
    ['a lone high surrogate', 'a\ud800b', false],
    ['a lone high surrogate at the end', 'a\ud800', false],
    ['a lone low surrogate', '\udc00a', false],
    ['two high surrogates', '\ud800\ud800\udc00', false],
  ])('%s → %s', (_name, text, safe) => {
    expect(isSafeText(text)).toBe(safe);
  });
});

describe('utf8ByteLength', () => {
  it.each(['', 'abc', 'é', '東京', '👍', 'mixed é 東 👍 text'])('is Buffer.byteLength of %j', (text) => {
    expect(utf8ByteLength(text)).toBe(Buffer.byteLength(text, 'utf8'));
  });

  it('counts a lone surrogate as the three bytes of its replacement', () => {
    expect(utf8ByteLength('\ud800')).toBe(Buffer.byteLength('\ud800', 'utf8'));
  });
});

describe('findJsonProblem', () => {
  it('accepts a value within every bound', () => {
    expect(findJsonProblem({ a: [1, 'two', { three: null }] }, { maxDepth: 3, maxBytes: 100 })).toBeNull();
  });

  it('measures a value nested 50,000 deep without overflowing the stack', () => {
    expect(findJsonProblem(nested(50_000), { maxDepth: 64 })).toMatchObject({ kind: 'depth', message: 'nests deeper than 64 levels' });
  });

  it('counts depth as JSON does: a scalar is 0, {} is 1', () => {
    expect(findJsonProblem(nested(64), { maxDepth: 64 })).toBeNull();
    expect(findJsonProblem(nested(65), { maxDepth: 64 })).toMatchObject({ kind: 'depth' });
  });

  it('names the path of a NUL or lone surrogate in a value or a key', () => {
    expect(findJsonProblem({ a: { b: ['ok', 'x\u0000'] } }, { maxDepth: 64 })).toMatchObject({ kind: 'text', path: 'a.b[1]' });
    expect(findJsonProblem({ a: { 'bad\ud800': 1 } }, { maxDepth: 64 })).toMatchObject({ kind: 'text', path: 'a' });
    expect(findJsonProblem({ 'odd key': { b: '\udc00' } }, { maxDepth: 64 })).toMatchObject({ kind: 'text', path: '["odd key"].b' });
  });

  it('ignores text when told to (depth only)', () => {
    expect(findJsonProblem({ a: '\u0000' }, { maxDepth: 64, checkText: false })).toBeNull();
  });

  it('refuses more than maxBytes of UTF-8 JSON', () => {
    const value = { text: 'é'.repeat(100) };
    const bytes = Buffer.byteLength(JSON.stringify(value));
    expect(findJsonProblem(value, { maxDepth: 64, maxBytes: bytes })).toBeNull();
    expect(findJsonProblem(value, { maxDepth: 64, maxBytes: bytes - 1 })).toMatchObject({ kind: 'size', message: `is ${bytes} bytes of JSON; at most ${bytes - 1} are allowed` });
  });
});

class Carrier {
  @IsObject()
  @IsBoundedJson(() => 64)
  payload: Record<string, unknown>;
}

function failures(payload: unknown) {
  return validateSync(plainToInstance(Carrier, { payload })).flatMap((error) => Object.entries(error.constraints ?? {}));
}

describe('IsBoundedJson', () => {
  it('passes a small, shallow, clean object', () => {
    expect(failures({ a: 'b' })).toEqual([]);
  });

  it('fails on size with a size constraint (413) naming the field', () => {
    const [[name, message]] = failures({ a: 'x'.repeat(100) });
    expect(SIZE_CONSTRAINTS.has(name)).toBe(true);
    expect(message).toMatch(/^payload is \d+ bytes of JSON; at most 64 are allowed$/);
  });

  it('fails on depth and text with constraints that are not about size, naming the inner path', () => {
    expect(failures(nested(70))).toEqual([['jsonWithinDepth', expect.stringMatching(/^payload\.a\.a.* nests deeper than 64 levels$/)]]);
    expect(failures({ list: ['\u0000'] })).toEqual([['jsonSafeText', 'payload.list[0] must not contain a NUL character or an unpaired surrogate']]);
  });
});

describe('limits', () => {
  afterEach(() => configureLimits({}));

  it('starts at the defaults and takes overrides, keeping the default of what is not given', () => {
    expect(limits()).toEqual(DEFAULT_LIMITS);
    configureLimits({ planSteps: 10, jsonDepth: undefined });
    expect(limits()).toEqual({ ...DEFAULT_LIMITS, planSteps: 10 });
  });
});

describe('the contract message classes', () => {
  const classes = [...Object.values(RpcRequestClasses), ...NESTED_CLASSES];
  const storage = getMetadataStorage();

  /** Property → the names of its constraints (class-validator's own types and custom names). */
  function constraintsOf(target: new () => object): Map<string, Set<string>> {
    const byProperty = new Map<string, Set<string>>();
    for (const metadata of storage.getTargetValidationMetadatas(target, '', true, false)) {
      const names = byProperty.get(metadata.propertyName) ?? new Set<string>();
      names.add(metadata.name ?? metadata.type);
      byProperty.set(metadata.propertyName, names);
    }
    return byProperty;
  }

  it('are all read by these checks (strings and objects found)', () => {
    const all = classes.flatMap((target) => [...constraintsOf(target).values()]);
    expect(all.filter((names) => names.has('isString')).length).toBeGreaterThan(30);
    // payload, definition, and output (TaskCompletion, the item of
    // complete-many), and the items of a batch create.
    expect(all.filter((names) => names.has('isObject')).length).toBe(5);
  });

  it.each(classes.map((target) => [target.name, target] as const))('%s refuses NUL and lone surrogates in every string field', (_name, target) => {
    for (const [property, names] of constraintsOf(target)) {
      if (names.has('isString')) expect([property, names.has('isSafeText')]).toEqual([property, true]);
    }
  });

  it.each(classes.map((target) => [target.name, target] as const))('%s bounds every JSON object it carries', (_name, target) => {
    for (const [property, names] of constraintsOf(target)) {
      // Each item of a batch create is validated by ACT as a CreateRequestCommand on its own
      // (bounded there), so that a bad item fails alone rather than the whole batch.
      if (target === CreateRequestsCommand && property === 'items') continue;
      if (names.has('isObject')) expect([property, [...names].filter((name) => name.startsWith('json'))]).toEqual([property, ['jsonWithinDepth', 'jsonSafeText', 'jsonWithinSize']]);
    }
  });
});
