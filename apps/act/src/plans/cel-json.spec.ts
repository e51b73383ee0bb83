import { celList, celMap, celUint } from '@bufbuild/cel';
import { evaluateCel } from './cel-program';
import { celToJson } from './cel-json';

function jsonOf(source: string, bindings: Record<string, unknown> = {}): ReturnType<typeof celToJson> {
  const evaluation = evaluateCel(source, bindings);
  if (!evaluation.ok) throw new Error(evaluation.error);
  return celToJson(evaluation.value, 64);
}

describe('celToJson', () => {
  it('converts maps, lists, scalars and null', () => {
    expect(jsonOf('{"a": [1, 2.5, "x", true, null], "b": {"c": -3}}')).toEqual({ ok: true, value: { a: [1, 2.5, 'x', true, null], b: { c: -3 } } });
  });

  it('writes uints as numbers, bytes as base64, timestamps as ISO strings and durations as protobuf does', () => {
    expect(jsonOf('[7u, b"hi", timestamp("2024-01-02T03:04:05.678Z"), duration("1.5s"), duration("-2s")]')).toEqual({
      ok: true,
      value: [7, 'aGk=', '2024-01-02T03:04:05.678Z', '1.5s', '-2s'],
    });
  });

  it('turns int, uint and bool map keys into strings', () => {
    expect(jsonOf('{1: "a", true: "b", 2u: "c"}')).toEqual({ ok: true, value: { '1': 'a', true: 'b', '2': 'c' } });
  });

  it('passes bound JSON data through unchanged, nested', () => {
    const payload = { ticket: 'T-1', lines: [{ n: 1 }, { n: 2 }] };
    expect(jsonOf('payload', { payload })).toEqual({ ok: true, value: payload });
  });

  it('keeps a __proto__ key as data, never as the prototype', () => {
    const result = celToJson(celMap(new Map([['__proto__', 'x']]) as never), 8);
    expect(result.ok && Object.getPrototypeOf(result.value)).toBe(Object.prototype);
    expect(result.ok && Object.keys(result.value as object)).toEqual(['__proto__']);
  });

  it('refuses an int JSON cannot hold exactly rather than rounding it', () => {
    const result = jsonOf('9007199254740993');
    expect(result).toEqual({ ok: false, error: expect.stringContaining('9007199254740993') });
    expect(celToJson(celUint(2n ** 60n), 8).ok).toBe(false);
  });

  it('refuses non-finite doubles and types', () => {
    expect(jsonOf('1.0 / 0.0').ok).toBe(false);
    expect(jsonOf('int')).toEqual({ ok: false, error: expect.stringContaining('type') });
  });

  it('charges the conversion to the budget, and stops once it is spent', () => {
    let spent = 0;
    const value = { text: 'x'.repeat(160), list: [1, 2, 3] };
    expect(celToJson(value, 8, (units) => ((spent += units), true)).ok).toBe(true);
    expect(spent).toBe(1 + (1 + 10) + 1 + 3);
    expect(celToJson(value, 8, () => false, 'over budget')).toEqual({ ok: false, error: 'over budget' });
  });

  it('refuses a value nested deeper than the limit', () => {
    let value: unknown = 1;
    for (let i = 0; i < 10; i++) value = celList([value] as never);
    expect(celToJson(value, 5)).toEqual({ ok: false, error: expect.stringContaining('deeper than 5') });
    expect(celToJson(value, 11).ok).toBe(true);
  });
});
