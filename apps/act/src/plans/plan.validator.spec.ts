import type { ErrorDetail } from '@hms/contracts';
import { validatePlan } from './plan.validator';

/** A valid plan to break one rule at a time. */
function aPlan(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'passport_renewal',
    title: 'Passport renewal',
    slaMinutes: 7200,
    defaults: { leaseSeconds: 7200, retry: { attempts: 3, backoffSeconds: 30, backoffFactor: 2 } },
    schedule: { cron: '0 0 * * *', tz: 'America/New_York', payload: {} },
    steps: [
      { id: 'ai_extract', title: 'Extract passport data', pool: 'ai_extract', tags: ['ocr'], slaMinutes: 10 },
      {
        id: 'human_verify',
        pool: 'human_verify',
        after: ['ai_extract'],
        when: 'steps.ai_extract.output.confidence < 0.9',
        approval: true,
      },
      { id: 'external_print', pool: 'external_print', priority: 5, optional: true },
    ],
    ...overrides,
  };
}

function step(index: number, changes: Record<string, unknown>, base = aPlan()): Record<string, unknown> {
  const steps = [...(base.steps as Array<Record<string, unknown>>)];
  steps[index] = { ...steps[index], ...changes };
  return { ...base, steps };
}

function problemsOf(input: unknown): ErrorDetail[] {
  const result = validatePlan(input);
  return result.ok ? [] : result.problems;
}

describe('validatePlan', () => {
  it('accepts the plan of the API documentation', () => {
    expect(validatePlan(aPlan())).toEqual({ ok: true, plan: aPlan() });
  });

  it('accepts a minimal plan', () => {
    expect(problemsOf({ id: 'p', steps: [{ id: 'a', pool: 'a' }] })).toEqual([]);
  });

  it('refuses anything but an object', () => {
    for (const input of [null, 'plan', 42, [aPlan()]]) {
      expect(problemsOf(input)).toEqual([{ path: '', message: 'a plan must be an object' }]);
    }
  });

  it('reports missing required fields at every level', () => {
    const plan = { title: 'x', defaults: { retry: {} }, schedule: {}, steps: [{ title: 'no id, no pool' }] };
    expect(problemsOf(plan)).toEqual(
      expect.arrayContaining([
        { path: 'id', message: 'is required' },
        { path: 'defaults.retry.attempts', message: 'is required' },
        { path: 'schedule.cron', message: 'is required' },
        { path: 'steps[0].id', message: 'is required' },
        { path: 'steps[0].pool', message: 'is required' },
      ]),
    );
    expect(problemsOf({ id: 'p' })).toEqual([{ path: 'steps', message: 'is required' }]);
  });

  it('reports unknown fields at every level', () => {
    const plan = aPlan({
      owner: 'me',
      defaults: { leaseSeconds: 60, timeout: 5, retry: { attempts: 2, jitter: true } },
      schedule: { cron: '0 0 * * *', every: 'day' },
    });
    const withStepTypos = step(0, { pool_name: 'x', retry: { attempts: 1, delay: 3 } }, step(1, { afterr: [] }, plan));
    const paths = problemsOf(withStepTypos).map((p) => p.path);
    expect(paths).toEqual(
      expect.arrayContaining(['owner', 'defaults.timeout', 'defaults.retry.jitter', 'schedule.every', 'steps[0].pool_name', 'steps[0].retry.delay', 'steps[1].afterr']),
    );
    expect(problemsOf(aPlan({ owner: 'me' }))[0].message).toMatch(/^unknown field 'owner' \(allowed: id, title, /);
  });

  it('reports values of the wrong type', () => {
    const plan = step(0, { title: 7, tags: 'ocr', priority: 1.5, approval: 'yes', optional: 1, after: 'x' }, aPlan({ title: ['x'], defaults: 'none', steps: aPlan().steps }));
    expect(problemsOf(plan)).toEqual(
      expect.arrayContaining([
        { path: 'title', message: 'must be a string' },
        { path: 'defaults', message: 'must be an object' },
        { path: 'steps[0].title', message: 'must be a string' },
        { path: 'steps[0].tags', message: 'must be an array' },
        { path: 'steps[0].priority', message: 'must be an integer' },
        { path: 'steps[0].approval', message: 'must be a boolean' },
        { path: 'steps[0].optional', message: 'must be a boolean' },
        { path: 'steps[0].after', message: 'must be an array' },
      ]),
    );
    expect(problemsOf(aPlan({ steps: {} }))).toEqual([{ path: 'steps', message: 'must be an array' }]);
    expect(problemsOf(aPlan({ slaMinutes: '10' }))).toEqual([{ path: 'slaMinutes', message: 'must be a number' }]);
  });

  it('reports ids and pools that are not slugs', () => {
    const plan = step(1, { id: 'Human Verify', pool: 'Human/Verify' }, aPlan({ id: 'Passport Renewal' }));
    expect(problemsOf(plan).map((p) => p.path)).toEqual(expect.arrayContaining(['id', 'steps[1].id', 'steps[1].pool']));
    expect(problemsOf(aPlan({ id: 'Passport Renewal' }))).toEqual([
      { path: 'id', message: "'Passport Renewal' must match ^[a-z0-9_.:-]+$ (lowercase letters, digits, _ . : -)" },
    ]);
  });

  it('reports numbers out of range', () => {
    const plan = step(0, { slaMinutes: 0, leaseSeconds: 0, retry: { attempts: 0, backoffFactor: 0.5, backoffSeconds: -1 } }, aPlan({ slaMinutes: -5 }));
    expect(problemsOf(plan)).toEqual([
      { path: 'slaMinutes', message: 'must be greater than 0' },
      { path: 'steps[0].slaMinutes', message: 'must be greater than 0' },
      { path: 'steps[0].leaseSeconds', message: 'must be at least 1' },
      { path: 'steps[0].retry.attempts', message: 'must be at least 1' },
      { path: 'steps[0].retry.backoffFactor', message: 'must be at least 1' },
      { path: 'steps[0].retry.backoffSeconds', message: 'must be at least 0' },
    ]);
    expect(problemsOf(step(0, { retry: { attempts: 101 } }))).toEqual([{ path: 'steps[0].retry.attempts', message: 'must be at most 100' }]);
  });

  it('requires at least one step', () => {
    expect(problemsOf(aPlan({ steps: [] }))).toEqual([{ path: 'steps', message: 'must have at least 1 item' }]);
  });

  it('reports repeated and empty tags and repeated after ids', () => {
    expect(problemsOf(step(2, { tags: ['a', 'a', ''], after: ['ai_extract', 'ai_extract'] }))).toEqual([
      { path: 'steps[2].tags[1]', message: 'repeats "a"' },
      { path: 'steps[2].tags[2]', message: 'must not be empty' },
      { path: 'steps[2].after[1]', message: 'repeats "ai_extract"' },
    ]);
  });

  it('reports duplicate step ids', () => {
    expect(problemsOf(step(2, { id: 'ai_extract' }))).toEqual([{ path: 'steps[2].id', message: "duplicate step id 'ai_extract' (also steps[0])" }]);
  });

  it('reports `after` ids that name no step', () => {
    expect(problemsOf(step(2, { after: ['human_verify', 'sign'] }))).toEqual([{ path: 'steps[2].after', message: "unknown step 'sign'" }]);
  });

  it('reports cycles with the loop spelled out', () => {
    const plan = step(0, { after: ['external_print'] });
    expect(problemsOf(plan)).toEqual([{ path: 'steps[0].after', message: 'cycle: ai_extract → human_verify → external_print → ai_extract' }]);
  });

  it('reports a step that comes after itself', () => {
    expect(problemsOf(step(2, { after: ['external_print'] }))).toEqual([{ path: 'steps[2].after', message: "step 'external_print' comes after itself" }]);
  });

  it('reports `when` expressions that do not parse', () => {
    const [problem] = problemsOf(step(1, { when: 'steps.ai_extract.output.confidence <' }));
    expect(problem.path).toBe('steps[1].when');
    expect(problem.message).toMatch(/^is not a valid CEL expression: 1:\d+: /);
    expect(problemsOf(step(1, { when: '' }))[0].message).toMatch(/^is not a valid CEL expression/);
  });

  it('reports `when` expressions that read an unknown step', () => {
    expect(problemsOf(step(1, { when: "steps.ocr.output.confidence < 0.9 || steps['scan'].status == 'done'" }))).toEqual([
      { path: 'steps[1].when', message: "refers to unknown step 'ocr'" },
      { path: 'steps[1].when', message: "refers to unknown step 'scan'" },
    ]);
  });

  it('reports `when` expressions that read a step which does not run before', () => {
    expect(problemsOf(step(1, { when: "steps.external_print.status == 'done'" }))).toEqual([
      { path: 'steps[1].when', message: "refers to step 'external_print', which does not run before this step (add it to after)" },
    ]);
    expect(problemsOf(step(1, { when: 'steps.human_verify.output.ok' }))[0].message).toBe(
      "refers to its own step 'human_verify', whose output does not exist yet",
    );
  });

  it('reports `when` expressions that read unknown variables or fields', () => {
    expect(problemsOf(step(1, { when: 'citizen.age > 18 && request.owner == "x" && steps.ai_extract.result.ok' }))).toEqual([
      { path: 'steps[1].when', message: "unknown variable 'citizen' (use payload, request, steps)" },
      { path: 'steps[1].when', message: "request has no field 'owner' (use id, plan, reference, priority)" },
      { path: 'steps[1].when', message: "steps.ai_extract has no field 'result' (use output, status, failed)" },
    ]);
  });

  it('refuses `when` expressions past the CEL limits, with the step path and without parsing what is too big', () => {
    expect(problemsOf(step(1, { when: 'payload.a.all(x, payload.b.all(y, payload.c.exists(z, x + y == z)))' }))).toEqual([
      { path: 'steps[1].when', message: expect.stringMatching(/^nests iterating macros 3 deep; at most 2 are allowed/) },
    ]);
    expect(problemsOf(step(1, { when: "payload.ticket.matches('(a)\\1')" }))).toEqual([
      { path: 'steps[1].when', message: expect.stringMatching(/^has a matches\(\) pattern that is not RE2 syntax/) },
    ]);
    expect(problemsOf(step(1, { when: '('.repeat(1500) + 'true' }))).toEqual([
      { path: 'steps[1].when', message: 'nests brackets 1500 deep; at most 32 are allowed' },
    ]);
    expect(problemsOf(step(1, { when: `payload.a == '${'x'.repeat(3000)}'` }))).toEqual([
      { path: 'steps[1].when', message: 'is 3015 characters long; an expression may have at most 2048' },
    ]);
  });

  it('accepts step inputs and a plan output over earlier steps', () => {
    const plan = aPlan({ output: '{"verified": steps.human_verify.output.approved, "printed": steps.external_print.status == "done"}' });
    const withInput = step(1, { input: { passportNo: 'steps.ai_extract.output.passport_no', ticket: 'payload.ticket', id: 'request.id' } }, plan);
    expect(validatePlan(withInput)).toEqual({ ok: true, plan: withInput });
  });

  it('reports each bad input expression at its name: syntax, unknown steps, steps that do not run before, unknown variables, CEL limits', () => {
    expect(
      problemsOf(
        step(1, {
          input: {
            broken: 'steps.ai_extract.output.',
            ghost: 'steps.ocr.output',
            later: 'steps.external_print.output',
            self: 'steps.human_verify.output',
            who: 'citizen.name',
            deep: 'payload.a.all(x, payload.b.all(y, payload.c.exists(z, x + y == z)))',
          },
        }),
      ),
    ).toEqual([
      { path: 'steps[1].input.broken', message: expect.stringMatching(/^is not a valid CEL expression/) },
      { path: 'steps[1].input.ghost', message: "refers to unknown step 'ocr'" },
      { path: 'steps[1].input.later', message: "refers to step 'external_print', which does not run before this step (add it to after)" },
      { path: 'steps[1].input.self', message: "refers to its own step 'human_verify', whose output does not exist yet" },
      { path: 'steps[1].input.who', message: "unknown variable 'citizen' (use payload, request, steps)" },
      { path: 'steps[1].input.deep', message: expect.stringMatching(/^nests iterating macros 3 deep/) },
    ]);
  });

  it('reports input values that are not expressions, and an input that is not a map', () => {
    expect(problemsOf(step(1, { input: { n: 5 } }))).toEqual([{ path: 'steps[1].input.n', message: 'must be a string' }]);
    expect(problemsOf(step(1, { input: ['payload'] }))).toEqual([{ path: 'steps[1].input', message: 'must be an object' }]);
  });

  it('reports a bad plan output: syntax, unknown steps, not a string', () => {
    expect(problemsOf(aPlan({ output: 'steps.ghost.output' }))).toEqual([{ path: 'output', message: "refers to unknown step 'ghost'" }]);
    expect(problemsOf(aPlan({ output: '{' }))[0]).toEqual({ path: 'output', message: expect.stringMatching(/^is not a valid CEL expression/) });
    expect(problemsOf(aPlan({ output: { a: 1 } }))).toEqual([{ path: 'output', message: 'must be a string' }]);
  });

  it('accepts a fan-out over a range or earlier outputs, with per-item inputs and an item failure policy', () => {
    const plan = {
      id: 'nightly_rescore',
      steps: [
        { id: 'list', pool: 'bots' },
        { id: 'score', pool: 'bots', forEach: 'lists.range(payload.count)', input: { file: 'steps.list.output.files[index]', n: 'item + 1' }, onItemFailure: 'continue' },
        { id: 'check', pool: 'bots', forEach: 'steps.score.output.filter(o, o != null)' },
        { id: 'report', pool: 'clerks', input: { failed: 'steps.score.failed', scores: 'steps.score.output' } },
      ],
    };
    expect(validatePlan(plan)).toEqual({ ok: true, plan });
  });

  it('reports bad forEach expressions at steps[i].forEach: syntax, unknown and later steps, unknown variables and functions, a literal range too wide', () => {
    const plan = (forEach: string, extra: Record<string, unknown> = {}) => ({
      id: 'p',
      steps: [
        { id: 'a', pool: 'bots' },
        { id: 'b', pool: 'bots', forEach, ...extra },
        { id: 'c', pool: 'bots' },
      ],
    });
    expect(problemsOf(plan('payload.files['))).toEqual([{ path: 'steps[1].forEach', message: expect.stringMatching(/^is not a valid CEL expression/) }]);
    expect(problemsOf(plan('steps.ghost.output'))).toEqual([{ path: 'steps[1].forEach', message: "refers to unknown step 'ghost'" }]);
    expect(problemsOf(plan('steps.c.output.files'))).toEqual([{ path: 'steps[1].forEach', message: "refers to step 'c', which does not run before this step (add it to after)" }]);
    expect(problemsOf(plan('item.files'))).toEqual([{ path: 'steps[1].forEach', message: "unknown variable 'item' (use payload, request, steps)" }]);
    expect(problemsOf(plan('lists.flatten(payload.l)'))).toEqual([{ path: 'steps[1].forEach', message: "unknown function 'lists.flatten' with 1 argument (use lists.range(n))" }]);
    expect(problemsOf(plan('lists.range(100001)'))).toEqual([{ path: 'steps[1].forEach', message: 'makes a list of 100001 items; a fan-out has at most 100000' }]);
    expect(problemsOf(plan('lists.range(100000)'))).toEqual([]);
    expect(problemsOf(plan(5 as unknown as string))).toEqual([{ path: 'steps[1].forEach', message: 'must be a string' }]);
  });

  it('reports fan-out settings that cannot go together', () => {
    const plan = (changes: Record<string, unknown>) => ({ id: 'p', steps: [{ id: 'a', pool: 'bots', ...changes }] });
    expect(problemsOf(plan({ onItemFailure: 'continue' }))).toEqual([{ path: 'steps[0].onItemFailure', message: 'applies only to a step with forEach' }]);
    expect(problemsOf(plan({ forEach: 'payload.l', onItemFailure: 'skip' }))).toEqual([{ path: 'steps[0].onItemFailure', message: 'must be one of fail, continue' }]);
    expect(problemsOf(plan({ forEach: 'payload.l', approval: true }))).toEqual([
      { path: 'steps[0].approval', message: 'a step with forEach cannot be an approval (approve its outputs in a step after it)' },
    ]);
    expect(problemsOf(plan({ forEach: 'payload.l', optional: true }))).toEqual([
      { path: 'steps[0].optional', message: 'a step with forEach is not optional; use onItemFailure: continue to go on past dead items' },
    ]);
    expect(problemsOf(plan({ forEach: 'payload.l', input: { item: 'payload.x' } }))).toEqual([
      { path: 'steps[0].input.item', message: "is the item's own item in a fan-out's input; choose another name" },
    ]);
    // item and index exist only in a fan-out's own input.
    expect(problemsOf({ id: 'p', steps: [{ id: 'a', pool: 'bots', input: { i: 'index' } }] })).toEqual([
      { path: 'steps[0].input.i', message: "unknown variable 'index' (use payload, request, steps)" },
    ]);
  });

  it("counts input expressions in the plan's CEL characters", () => {
    const long = `payload.note + '${'x'.repeat(2000)}'`;
    const input = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`v${i}`, long]));
    expect(problemsOf(step(1, { input }))).toEqual([
      { path: 'steps[1].input.v8', message: expect.stringMatching(/^brings the plan's CEL expressions to \d+ characters/) },
    ]);
  });

  it('bounds the CEL characters of a whole plan', () => {
    const when = `payload.note != '${'x'.repeat(2000)}'`;
    const steps = Array.from({ length: 10 }, (_, i) => ({ id: `s${i}`, pool: 'p', when }));
    expect(problemsOf(aPlan({ steps }))).toEqual([
      { path: 'steps[8].when', message: expect.stringMatching(/^brings the plan's CEL expressions to \d+ characters; a plan may have at most 16384$/) },
    ]);
  });

  it('accepts variables bound by macros in `when`', () => {
    expect(problemsOf(step(1, { when: "payload.docs.exists(d, d.kind == 'photo') && has(payload.tier) && request.priority > 0" }))).toEqual([]);
  });

  it('reports a cron string that is not valid', () => {
    expect(problemsOf(aPlan({ schedule: { cron: '61 0 * * *' } }))).toEqual([
      { path: 'schedule.cron', message: "'61 0 * * *' is not a valid cron expression: Invalid value for minute: 61" },
    ]);
  });

  it('accepts a six-field cron string (seconds first), as croner does', () => {
    expect(problemsOf(aPlan({ schedule: { cron: '*/1 * * * * *' } }))).toEqual([]);
  });

  it('reports a cron string without five or six fields', () => {
    expect(problemsOf(aPlan({ schedule: { cron: '0 0 0 * * * 2030' } }))).toEqual([
      {
        path: 'schedule.cron',
        message: "'0 0 0 * * * 2030' must have five fields (minute hour day-of-month month day-of-week) or six (seconds first), found 7",
      },
    ]);
    expect(problemsOf(aPlan({ schedule: { cron: '0 0 *' } }))[0].message).toMatch(/found 3$/);
  });

  it('reports an unknown time zone', () => {
    expect(problemsOf(aPlan({ schedule: { cron: '0 0 * * *', tz: 'Mars/Olympus_Mons' } }))).toEqual([
      { path: 'schedule.tz', message: "unknown time zone 'Mars/Olympus_Mons' (use an IANA name such as America/New_York)" },
    ]);
  });

  it('lists every problem of a plan at once', () => {
    const plan = {
      id: 'Bad Id',
      colour: 'red',
      schedule: { cron: 'often', tz: 'Nowhere/Land' },
      steps: [
        { id: 'a', pool: 'p', after: ['c'] },
        { id: 'b', pool: 'p', after: ['zzz'] },
        { id: 'c', pool: 'p', after: ['a'], when: 'steps.nope.output.x' },
        { id: 'c', pool: 'p' },
      ],
    };
    expect(problemsOf(plan).map((p) => p.path)).toEqual([
      'id',
      'colour',
      'steps[3].id',
      'steps[1].after',
      'steps[0].after',
      'steps[2].when',
      'schedule.tz',
      'schedule.cron',
    ]);
  });
});

describe('validatePlan within the limits', () => {
  const manySteps = (count: number) => Array.from({ length: count }, (_, i) => ({ id: `s${i}`, pool: 'p' }));

  it('refuses a 5,000-step plan with one problem naming the plan steps limit', () => {
    expect(problemsOf({ id: 'huge', steps: manySteps(5000) })).toEqual([
      { path: 'steps', message: 'has 5000 steps; a plan may have at most 200 (the plan steps limit, HMS_LIMIT_PLAN_STEPS)' },
    ]);
  });

  it('takes a plan of exactly the steps limit', () => {
    expect(validatePlan({ id: 'big', steps: manySteps(200) }).ok).toBe(true);
  });

  it('refuses an after list longer than the steps limit before looking at its items', () => {
    const after = Array.from({ length: 5000 }, () => 'a');
    expect(problemsOf({ id: 'fan', steps: [{ id: 'a', pool: 'p' }, { id: 'b', pool: 'p', after }] })).toEqual([
      { path: 'steps[1].after', message: 'names 5000 steps; at most 200 (the plan steps limit)' },
    ]);
  });

  it.each([
    ['a step priority past its range', step(2, { priority: 2_147_483_648 }), 'steps[2].priority', 'must be at most 1000000'],
    ['a negative step priority past its range', step(2, { priority: -2_147_483_649 }), 'steps[2].priority', 'must be at least -1000000'],
    ['a lease past a week', step(0, { leaseSeconds: 2_147_483_648 }), 'steps[0].leaseSeconds', 'must be at most 604800'],
    ['a negative lease', step(0, { leaseSeconds: -1 }), 'steps[0].leaseSeconds', 'must be at least 1'],
    ['a backoff past a year', aPlan({ defaults: { retry: { attempts: 2, backoffSeconds: 1e300 } } }), 'defaults.retry.backoffSeconds', 'must be at most 31536000'],
    ['a negative backoff', aPlan({ defaults: { retry: { attempts: 2, backoffSeconds: -1 } } }), 'defaults.retry.backoffSeconds', 'must be at least 0'],
    ['a backoff cap past a year', step(0, { retry: { attempts: 2, maxBackoffSeconds: 2_147_483_648 } }), 'steps[0].retry.maxBackoffSeconds', 'must be at most 31536000'],
    ['an SLA past ten years', aPlan({ slaMinutes: 1e300 }), 'slaMinutes', 'must be at most 5256000'],
    ['a plan id of 5,000 characters', aPlan({ id: 'p'.repeat(5000) }), 'id', 'must be at most 128 characters'],
    ['a pool id of 5,000 characters', step(0, { pool: 'p'.repeat(5000) }), 'steps[0].pool', 'must be at most 128 characters'],
    ['a NUL in a title', step(0, { title: 'a\u0000' }), 'steps[0].title', 'must not contain a NUL character or an unpaired surrogate'],
    ['a lone surrogate in a schedule payload', aPlan({ schedule: { cron: '0 0 * * *', payload: { x: '\ud800' } } }), 'schedule.payload.x', 'must not contain a NUL character or an unpaired surrogate'],
  ])('refuses %s', (_name, plan, path, message) => {
    expect(problemsOf(plan)).toContainEqual({ path, message });
  });

  it('refuses a plan nested deeper than the JSON depth limit', () => {
    let payload: unknown = 1;
    for (let i = 0; i < 100; i++) payload = { a: payload };
    expect(problemsOf(aPlan({ schedule: { cron: '0 0 * * *', payload } }))).toEqual([{ path: expect.stringMatching(/^schedule\.payload\.a/), message: 'nests deeper than 64 levels' }]);
  });
});
