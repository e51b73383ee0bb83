import { canonicalJson, contentHash, sha256Hex } from './canonical-json';

describe('canonicalJson', () => {
  it.each<[string, unknown, string]>([
    ['sorts keys at every level', { b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } }, '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}'],
    ['keeps array order', [3, 1, 2], '[3,1,2]'],
    ['drops undefined properties like JSON does', { a: undefined, b: 'x' }, '{"b":"x"}'],
    ['writes undefined array items as null like JSON does', [undefined, 1], '[null,1]'],
    ['escapes strings like JSON', { 'k"': 'line\nbreak' }, '{"k\\"":"line\\nbreak"}'],
    ['uses toJSON (dates)', { at: new Date('2026-01-02T03:04:05.678Z') }, '{"at":"2026-01-02T03:04:05.678Z"}'],
    ['writes scalars', 1.5, '1.5'],
    ['orders keys by UTF-16 code units, empty key first', { b: 1, 'é': 2, B: 3, '': 4, a: [] }, '{"":4,"B":3,"a":[],"b":1,"é":2}'],
    ['writes empty objects and arrays', { a: {}, b: [] }, '{"a":{},"b":[]}'],
  ])('%s', (_name, value, expected) => {
    expect(canonicalJson(value)).toBe(expected);
  });

  it('gives the same text for the same content in any key order', () => {
    expect(canonicalJson({ x: 1, y: [{ b: 2, a: 1 }] })).toBe(canonicalJson({ y: [{ a: 1, b: 2 }], x: 1 }));
  });

  it('refuses values with no stable JSON form', () => {
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(TypeError);
    expect(() => canonicalJson({ n: Infinity })).toThrow(TypeError);
    expect(() => canonicalJson({ f: () => 1 })).toThrow(TypeError);
    expect(() => canonicalJson({ n: BigInt(1) })).toThrow(TypeError);
  });
});

describe('contentHash', () => {
  it('is the sha-256 of the canonical JSON', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(contentHash({ b: 1, a: 2 })).toBe(sha256Hex('{"a":2,"b":1}'));
  });

  it('changes when any value changes', () => {
    expect(contentHash({ a: 1 })).not.toBe(contentHash({ a: 2 }));
  });
});
