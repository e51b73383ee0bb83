import { analyzeWhen, evaluateWhen, type WhenContext } from './when-expression';

function context(overrides: Partial<WhenContext> = {}): WhenContext {
  return {
    payload: { applicant: { age: 34, country: 'US' }, docs: [{ kind: 'photo' }, { kind: 'form' }], amount: 1200 },
    request: { id: 'r-1', plan: 'passport_renewal', reference: 'T-9', priority: 2 },
    steps: {
      ai_extract: { status: 'done', output: { confidence: 0.72, fields: { name: 'Ada' } }, failed: [] },
      human_verify: { status: 'pending', output: {}, failed: [] },
    },
    ...overrides,
  };
}

describe('analyzeWhen', () => {
  it('lists the steps an expression reads, by field and by index', () => {
    expect(analyzeWhen("steps.ai_extract.output.confidence < 0.9 && steps['scan'].status == 'done'")).toEqual({
      stepRefs: ['ai_extract', 'scan'],
      problems: [],
      rangeLiterals: [],
    });
  });

  it('reports a parse error with its position', () => {
    expect(analyzeWhen('payload.amount >')).toEqual({ parseError: expect.stringMatching(/^1:\d+: found /), stepRefs: [], problems: [], rangeLiterals: [] });
  });

  it('reports unknown variables but not macro variables', () => {
    expect(analyzeWhen('payload.docs.all(d, d.kind != "") && x > 1').problems).toEqual(["unknown variable 'x' (use payload, request, steps)"]);
    expect(analyzeWhen('payload.docs.map(d, d.kind).size() > 0').problems).toEqual([]);
  });

  it('reads lists.range as a function, not a variable, and lists its literal counts', () => {
    expect(analyzeWhen('lists.range(payload.n).size() > lists.range(3).size()')).toEqual({ stepRefs: [], problems: [], rangeLiterals: [3] });
    expect(analyzeWhen('lists.sort(payload.l)').problems).toEqual(["unknown function 'lists.sort' with 1 argument (use lists.range(n))"]);
    expect(analyzeWhen('item + index', ['item', 'index']).problems).toEqual([]);
  });

  it('reports unknown request and step fields', () => {
    expect(analyzeWhen('request.owner == "a" || steps.a.outputs.x').problems).toEqual([
      "request has no field 'owner' (use id, plan, reference, priority)",
      "steps.a has no field 'outputs' (use output, status, failed)",
    ]);
  });

  it('does not mistake a macro variable named steps for the steps of the plan', () => {
    expect(analyzeWhen('payload.docs.exists(steps, steps.kind == "photo")')).toEqual({ stepRefs: [], problems: [], rangeLiterals: [] });
  });
});

describe('evaluateWhen', () => {
  it.each<[string, boolean]>([
    ['steps.ai_extract.output.confidence < 0.9', true],
    ['steps.ai_extract.output.confidence >= 0.9', false],
    ["payload.applicant.country == 'US' && payload.applicant.age > 18", true],
    ['payload.amount > 1000', true],
    ['payload.amount == 1200', true],
    ["payload.docs.exists(d, d.kind == 'photo')", true],
    ['size(payload.docs) == 3', false],
    ["request.plan == 'passport_renewal' && request.priority >= 2 && request.reference == 'T-9'", true],
    ["steps.human_verify.status == 'pending'", true],
    ['has(steps.ai_extract.output.confidence)', true],
    ['has(steps.human_verify.output.approved)', false],
    ["steps.ai_extract.output.fields.name.startsWith('A')", true],
  ])('%s → %s', (expression, expected) => {
    expect(evaluateWhen(expression, context())).toEqual({ ok: true, value: expected });
  });

  it('is an error, not false, when a field is missing', () => {
    expect(evaluateWhen('steps.human_verify.output.approved', context())).toEqual({ ok: false, error: expect.stringContaining('approved') });
  });

  it('is an error when the result is not a boolean', () => {
    expect(evaluateWhen('payload.amount + 1.0', context())).toEqual({ ok: false, error: 'the expression gave a number, not a boolean' });
    expect(evaluateWhen('1 + 2', context())).toEqual({ ok: false, error: 'the expression gave an int, not a boolean' });
  });

  it('is an error, not a throw, when the text does not parse', () => {
    expect(evaluateWhen('payload.', context())).toEqual({ ok: false, error: expect.stringMatching(/^1:\d+: /) });
  });

  it('cannot reach JavaScript internals of the values', () => {
    for (const expression of ['payload.constructor', "payload['__proto__']", 'payload.toString']) {
      expect(evaluateWhen(`has(payload.amount) && ${expression} != null`, context())).toEqual({ ok: false, error: expect.stringContaining('field not found') });
    }
  });

  it('treats a null reference as CEL null', () => {
    expect(evaluateWhen('request.reference == null', context({ request: { id: 'r', plan: 'p', reference: null, priority: 0 } }))).toEqual({ ok: true, value: true });
  });
});
