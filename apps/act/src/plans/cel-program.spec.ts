import { CEL_LIMITS, FixedLimits } from '@hms/contracts';
import { CelBudget, bracketNesting, celLimitProblems, evaluateCel, regexProblem } from './cel-program';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('celLimitProblems', () => {
  it('accepts a realistic condition, macros and a literal RE2 pattern included', () => {
    expect(
      celLimitProblems("steps.ai_extract.output.confidence < 0.9 && payload.docs.all(d, d.pages.exists(p, p.kind == 'photo')) && payload.ticket.matches('^T-[0-9]+$')"),
    ).toEqual([]);
  });

  it('leaves a syntax error to the caller, which reports its position', () => {
    expect(celLimitProblems('payload.amount >')).toEqual([]);
  });

  it.each([
    ['too long', `payload.a == '${'x'.repeat(CEL_LIMITS.expressionLength)}'`, /characters long; an expression may have at most 2048/],
    ['unclosed brackets, refused before the parser sees them', '('.repeat(1000) + '1', /nests brackets 1000 deep; at most 32/],
    ['too many nodes', Array.from({ length: 60 }, (_, i) => `(p.a${i}==${i}||p.b${i}==${i})`).join(' && '), /nodes once parsed; at most 500/],
    ['operators nested too deep', Array.from({ length: 40 }, (_, i) => `${i}`).join(' + ') + ' > 0', /nests operators \d+ deep; at most 32/],
    ['too many iterating macros', Array.from({ length: 9 }, (_, i) => `payload.l${i}.all(x, x > 0)`).join(' && '), /uses 9 iterating macros \(all, exists, exists_one, map, filter\); at most 8/],
    ['macros nested three deep', 'payload.a.all(x, payload.b.all(y, payload.c.exists(z, x + y == z)))', /nests iterating macros 3 deep; at most 2/],
    ['a backreference', "payload.s.matches('(a)\\\\1')", /not RE2 syntax .*no backreferences or lookarounds.*invalid escape sequence/],
    ['a lookahead', "matches(payload.s, '(?=a)b')", /not RE2 syntax/],
    ['a pattern too long', `payload.s.matches('${'a'.repeat(CEL_LIMITS.regexPatternLength + 1)}')`, /pattern of 257 characters; at most 256/],
  ])('refuses %s', (_name, source, message) => {
    expect(celLimitProblems(source)).toEqual([expect.stringMatching(message)]);
  });

  it('allows two levels of iterating macros (each bounded at run time by the budget)', () => {
    expect(celLimitProblems('payload.a.all(x, payload.b.exists(y, x == y))')).toEqual([]);
  });

  it('does not count a macro in the range or the result of another as nested', () => {
    expect(celLimitProblems('payload.a.map(x, x).filter(y, y > 0).map(z, z.l.exists(w, w)).size() > 0')).toEqual([]);
  });
});

describe('bracketNesting', () => {
  it.each([
    ['(a && (b || [c, {d: e}]))', 4],
    ["'((((' + \"[[[[\" + '''((''' + r'\\' + (x)", 1],
    ["'it\\'s (' + (x)", 1],
    ['', 0],
  ])('reads %s as %i deep, string literals left out', (source, depth) => {
    expect(bracketNesting(source)).toBe(depth);
  });
});

describe('regexProblem', () => {
  it('accepts RE2 syntax and names what it refuses', () => {
    expect(regexProblem('^[A-Z]{2}[0-9]{7}$')).toBeNull();
    expect(regexProblem('(a+)+$')).toBeNull();
    expect(regexProblem('a(?<=b)')).toMatch(/not RE2 syntax/);
  });
});

describe('evaluateCel', () => {
  it('evaluates within the budget', () => {
    const result = evaluateCel('payload.l.all(x, x >= 0) && payload.s.matches("^a+$")', { payload: { l: range(100), s: 'aaa' } });
    expect(result).toEqual({ ok: true, value: true });
  });

  it('counts the same cost for the same expression and data, every time (replicas agree)', () => {
    const run = () => {
      const budget = new CelBudget();
      return { result: evaluateCel('payload.l.filter(x, x > 10.0).map(y, y * 2.0).exists(z, z > 50000.0)', { payload: { l: range(1000) } }, budget), used: budget.used };
    };
    const first = run();
    expect(first).toMatchObject({ result: { ok: true, value: false }, used: expect.any(Number) });
    expect(first.used).toBeGreaterThan(1000);
    expect(run()).toEqual(first);
  });

  it('matches a backtracking bomb in linear time: (a+)+$ over 50,000 a and a b', () => {
    const result = evaluateCel("payload.s.matches('(a+)+$')", { payload: { s: 'a'.repeat(50_000) + 'b' } });
    expect(result).toEqual({ ok: true, value: false });
  });

  it('reads a field of a large map inside a macro without copying the map each time', () => {
    const m = Object.fromEntries(range(3000).map((i) => [`k${i}`, i]));
    expect(evaluateCel('payload.m.all(k, payload.m[k] >= 0.0)', { payload: { m } })).toEqual({ ok: true, value: true });
  });

  it('refuses a match whose text × pattern exceeds the budget before running it', () => {
    const result = evaluateCel(`payload.s.matches('${'(a|b)+'.repeat(40)}$')`, { payload: { s: 'a'.repeat(256 * 1024) } });
    expect(result).toEqual({ ok: false, budgetExceeded: true, error: `exceeded the CEL cost budget of ${CEL_LIMITS.costBudget} units (see docs/limits.md)` });
  });

  it('refuses a pattern read from the data that is not RE2 syntax', () => {
    expect(evaluateCel('payload.s.matches(payload.p)', { payload: { s: 'aa', p: '(a)\\1' } })).toMatchObject({ ok: false, budgetExceeded: false, error: expect.stringMatching(/invalid escape/) });
  });

  it('stops a large comprehension at the budget', () => {
    const budget = new CelBudget();
    expect(evaluateCel('payload.l.all(x, x >= 0)', { payload: { l: range(50_000) } }, budget)).toMatchObject({ ok: false, budgetExceeded: true });
    // It stopped at the budget, one item's worth past it, not at the end of the list.
    expect(budget.used).toBeLessThan(CEL_LIMITS.costBudget + 100);
  });

  it('stops nested comprehensions, whose work is the product of the lists', () => {
    const result = evaluateCel('payload.l.all(x, payload.l.exists(y, y == x))', { payload: { l: range(3000) } });
    expect(result).toMatchObject({ ok: false, budgetExceeded: true });
  });

  it('charges deep equality by the size of what it compares', () => {
    const big = range(20_000);
    expect(evaluateCel('payload.l.all(x, [payload.a] == [payload.b])', { payload: { l: range(100), a: big, b: big } })).toMatchObject({ ok: false, budgetExceeded: true });
    expect(evaluateCel('payload.l.all(x, x in payload.a)', { payload: { l: range(100), a: big } })).toMatchObject({ ok: false, budgetExceeded: true });
  });

  it('charges a key lookup in a map as constant, whatever the map size', () => {
    const m = Object.fromEntries(range(50_000).map((i) => [`k${i}`, i]));
    expect(evaluateCel("payload.l.all(x, 'k1' in payload.m)", { payload: { l: range(100), m } })).toEqual({ ok: true, value: true });
  });

  it('charges scanning a long string on every item', () => {
    expect(evaluateCel("payload.l.all(x, !payload.s.contains('b'))", { payload: { l: range(1000), s: 'a'.repeat(100_000) } })).toMatchObject({ ok: false, budgetExceeded: true });
  });

  it('fails an expression that went over budget even when an || absorbed the error', () => {
    expect(evaluateCel('payload.l.exists(x, x < 0) || true', { payload: { l: range(100_000) } })).toMatchObject({ ok: false, budgetExceeded: true });
  });

  it('charges the items an exists stops at, not the whole list', () => {
    expect(evaluateCel('payload.l.exists(x, x == 5.0)', { payload: { l: range(50_000) } })).toMatchObject({ ok: true, value: true });
  });

  it('builds map and filter results in linear time, without overflowing the stack on a long list', () => {
    const result = evaluateCel('payload.l.map(x, x).filter(y, y >= 0.0).exists(z, z < 0.0)', { payload: { l: range(50_000) } }, new CelBudget(10_000_000));
    expect(result).toMatchObject({ ok: true, value: false });
  });

  it('appends in place only to the newest view of a list', () => {
    expect(evaluateCel('[[1, 2].map(x, x)].all(m, [m + [3], m + [4], m] == [[1, 2, 3], [1, 2, 4], [1, 2]])', {})).toMatchObject({ ok: true, value: true });
  });

  it('shares one budget between the evaluations of a decision, and stays spent', () => {
    const budget = new CelBudget(5000);
    const expression = 'payload.l.all(x, x >= 0)';
    expect(evaluateCel(expression, { payload: { l: range(100) } }, budget)).toEqual({ ok: true, value: true });
    expect(evaluateCel(expression, { payload: { l: range(300) } }, budget)).toMatchObject({ ok: false, budgetExceeded: true });
    expect(evaluateCel('true', {}, budget)).toMatchObject({ ok: false, budgetExceeded: true });
  });

  it('refuses a stored expression past the pre-parse limits instead of parsing it', () => {
    expect(evaluateCel('('.repeat(1000) + '1', {})).toMatchObject({ ok: false, budgetExceeded: false, error: expect.stringMatching(/nests brackets 1000 deep/) });
  });
});

describe('lists.range', () => {
  const items = (source: string, payload: Record<string, unknown> = {}) => {
    const result = evaluateCel(source, { payload });
    return result.ok ? [...(result.value as Iterable<unknown>)].map(Number) : result.error;
  };

  it('makes [0..n-1] from an int, a uint or a whole double (JSON numbers are doubles)', () => {
    expect(items('lists.range(3)')).toEqual([0, 1, 2]);
    expect(items('lists.range(2u)')).toEqual([0, 1]);
    expect(items('lists.range(payload.count)', { count: 4 })).toEqual([0, 1, 2, 3]);
    expect(items('lists.range(0)')).toEqual([]);
    expect(items('lists.range(4).map(i, i * 2)')).toEqual([0, 2, 4, 6]);
  });

  it('refuses a negative, fractional or too wide count with a reason', () => {
    expect(items('lists.range(-1)')).toMatch(/cannot be negative/);
    expect(items('lists.range(payload.n)', { n: 2.5 })).toMatch(/must be a whole number/);
    expect(items(`lists.range(${FixedLimits.fanOutItems + 1})`)).toMatch(/wider than a fan-out may be \(100000 items/);
    expect(items('lists.range("3")')).toMatch(/no matching overload/);
  });

  it('makes a list at the width limit within the budget, charged by its size', () => {
    const budget = new CelBudget();
    const result = evaluateCel(`lists.range(${FixedLimits.fanOutItems})`, {}, budget);
    expect(result.ok && [...(result.value as Iterable<unknown>)].length).toBe(FixedLimits.fanOutItems);
    expect(budget.used).toBeGreaterThan(FixedLimits.fanOutItems / 16);
    expect(evaluateCel('lists.range(1000)', {}, new CelBudget(10))).toMatchObject({ ok: false, budgetExceeded: true });
  });
});
