import { DomainError } from '@hms/contracts';
import { parsePlanYaml, planSourceOf } from './plan-source';

function errorOf(work: () => unknown): DomainError {
  try {
    work();
  } catch (error) {
    return error as DomainError;
  }
  throw new Error('expected an error');
}

describe('parsePlanYaml', () => {
  it('parses a plan', () => {
    expect(parsePlanYaml('id: p\nsteps:\n  - { id: a, pool: q }\n')).toEqual({ id: 'p', steps: [{ id: 'a', pool: 'q' }] });
  });

  it('keeps YAML 1.2 scalars as written (no yes/no booleans, no dates)', () => {
    expect(parsePlanYaml('a: yes\nb: 2026-01-01\nc: "0 0 * * *"\n')).toEqual({ a: 'yes', b: '2026-01-01', c: '0 0 * * *' });
  });

  it.each([
    ['id: p\nsteps:\n  - id: a\n    pool: [q\n', 'line 5, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]'],
    ['id: p\nid: q\n', 'line 2, column 1: Map keys must be unique'],
    ["id: 'p\n", "line 2, column 1: Missing closing 'quote"],
    ['id: p\n---\nid: q\n', 'line 2, column 1: Source contains multiple documents; please use YAML.parseAllDocuments()'],
  ])('reports a syntax error with its line: %j', (source, message) => {
    const error = errorOf(() => parsePlanYaml(source));
    expect(error).toBeInstanceOf(DomainError);
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.details).toEqual([{ path: 'yaml', message }]);
  });

  it('refuses alias bombs', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 8; i++) lines.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}]`);
    const error = errorOf(() => parsePlanYaml(lines.join('\n')));
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.details).toEqual([{ path: 'yaml', message: expect.stringMatching(/alias/i) }]);
  });
});

describe('planSourceOf', () => {
  it('takes the JSON definition or the YAML text', () => {
    expect(planSourceOf({ definition: { id: 'p' } })).toEqual({ id: 'p' });
    expect(planSourceOf({ yaml: 'id: p' })).toEqual({ id: 'p' });
  });

  it('refuses both and neither', () => {
    expect(errorOf(() => planSourceOf({})).details).toEqual([{ path: 'definition', message: 'either definition or yaml is required' }]);
    expect(errorOf(() => planSourceOf({ definition: {}, yaml: 'id: p' })).details).toEqual([{ path: 'yaml', message: 'must be absent when definition is given' }]);
  });
});

describe('parsePlanYaml within the limits', () => {
  it('refuses YAML nested 50,000 deep before parsing it', () => {
    const error = errorOf(() => parsePlanYaml(`id: p\nsteps: ${'['.repeat(50_000)}${']'.repeat(50_000)}\n`));
    expect(error).toMatchObject({ code: 'VALIDATION_FAILED', details: [{ path: 'yaml', message: 'nests deeper than 64 levels' }] });
  });

  it('still reads brackets that close, however many', () => {
    expect(parsePlanYaml(`id: p\ntags: [${'[a], '.repeat(500)}]\n`)).toMatchObject({ id: 'p' });
  });

  it('refuses an alias bomb', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]', 'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]', 'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]', 'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]', 'e: [*d, *d, *d, *d, *d, *d, *d, *d, *d]'];
    expect(errorOf(() => parsePlanYaml(bomb.join('\n')))).toMatchObject({ code: 'VALIDATION_FAILED', details: [{ path: 'yaml' }] });
  });
});
