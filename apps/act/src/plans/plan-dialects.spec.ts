import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DomainError } from '@hms/contracts';
import { canonicalPlan, slugOf } from './plan-dialects';
import { inlinePlanOf, parsePlanYaml } from './plan-source';
import { validatePlan } from './plan.validator';
import { readPlanFile } from './plans.loader';

const seeds = join(__dirname, '..', '..', '..', '..', 'examples', 'seeds');

function problemsOf(work: () => unknown): Array<{ path?: string; message: string }> {
  try {
    work();
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe('VALIDATION_FAILED');
    return (error as DomainError).details ?? [];
  }
  throw new Error('expected a VALIDATION_FAILED');
}

describe('canonicalPlan', () => {
  it('translates the passport seed (lanes, sequence, retry_policy)', () => {
    const plan = canonicalPlan(parsePlanYaml(readFileSync(join(seeds, 'passport.plan.yaml'), 'utf8')));
    expect(plan).toEqual({
      id: 'passport_renewal',
      defaults: { retry: { attempts: 3, backoffSeconds: 30 } },
      steps: [
        { id: 'ai_extract', pool: 'ai_extract' },
        { id: 'human_verify', pool: 'human_verify' },
        { id: 'external_print', pool: 'external_print' },
      ],
    });
    expect(validatePlan(plan).ok).toBe(true);
  });

  it('translates the repair seed (task steps, slaHours) under the id given beside it', () => {
    const plan = canonicalPlan(JSON.parse(readFileSync(join(seeds, 'repairWorkflow.json'), 'utf8')), { id: 'pothole_repair' });
    expect(plan).toEqual({
      id: 'pothole_repair',
      slaMinutes: 2880,
      steps: [
        { id: 'assess_severity', title: 'assessSeverity', pool: 'severity_agent' },
        { id: 'human_approval', title: 'humanApproval', pool: 'supervisor' },
        { id: 'assign_crew', title: 'assignCrew', pool: 'crew_scheduler' },
        { id: 'execute_repair', title: 'executeRepair', pool: 'repair_service' },
      ],
    });
    expect(validatePlan(plan).ok).toBe(true);
  });

  it('translates the SSA job seed (schedule string, queue, sla_minutes, image)', () => {
    const plan = canonicalPlan(parsePlanYaml(readFileSync(join(seeds, 'ssa_re-score.yaml'), 'utf8')));
    expect(plan).toEqual({
      id: 'ssa_re_score',
      slaMinutes: 300,
      schedule: { cron: '0 0 * * *' },
      annotations: { image: 'usgov/ssa-worker:v1' },
      steps: [{ id: 'ssa_re_score_q', pool: 'ssa_re_score_q' }],
    });
    expect(validatePlan(plan).ok).toBe(true);
  });

  it('gives a canonical plan back unchanged', () => {
    const plan = { id: 'p', title: 't', slaMinutes: 5, steps: [{ id: 'a', pool: 'q', after: [] }] };
    expect(canonicalPlan(plan)).toEqual(plan);
  });

  it('keeps when clauses and step fields of sequence entries, and numbers a lane used twice', () => {
    const plan = canonicalPlan({
      id: 'p',
      lanes: ['a', 'b'],
      sequence: ['a', { lane: 'b', when: 'payload.x > 1', tags: ['t'] }, 'a'],
    });
    expect(plan).toEqual({
      id: 'p',
      steps: [
        { id: 'a', pool: 'a' },
        { id: 'b', pool: 'b', when: 'payload.x > 1', tags: ['t'] },
        { id: 'a_2', pool: 'a' },
      ],
    });
    expect(validatePlan(plan).ok).toBe(true);
  });

  it('runs the lanes in order when there is no sequence', () => {
    expect(canonicalPlan({ id: 'p', lanes: ['x', 'y'] })).toEqual({ id: 'p', steps: [{ id: 'x', pool: 'x' }, { id: 'y', pool: 'y' }] });
  });

  it('leaves fields it does not know to the validator', () => {
    const plan = canonicalPlan({ id: 'p', queue: 'q', colour: 'red' });
    expect(validatePlan(plan)).toEqual({ ok: false, problems: [expect.objectContaining({ path: 'colour' })] });
  });

  it.each([
    [{ id: 'p', lanes: ['a'], sequence: ['b'] }, [{ path: 'sequence[0]', message: "lane 'b' is not in lanes" }]],
    [{ id: 'p', lanes: 'a' }, [{ path: 'lanes', message: 'must be a list of lane names' }]],
    [{ id: 'p', sequence: [7] }, [{ path: 'sequence[0]', message: 'must be a lane name or {lane, when, ...}' }]],
    [{ id: 'p', sequence: [{ lane: 'a', pool: 'z' }] }, [{ path: 'sequence[0].pool', message: 'a sequence entry runs in its lane; pool cannot be given' }]],
    [{ id: 'p', sequence: ['a'], steps: [] }, [{ path: 'sequence', message: 'cannot be combined with steps (give one of them)' }]],
    [{ id: 'p', queue: 'q', lanes: ['a'] }, [{ path: 'queue', message: 'cannot be combined with lanes (a job with a queue is one step)' }]],
    [{ id: 'p', queue: 7 }, [{ path: 'queue', message: 'must be a non-empty name' }]],
    [{ id: 'p', queue: 'q', retry_policy: { attempts: 3, backoff: 5 } }, [{ path: 'retry_policy.backoff', message: expect.stringContaining("unknown field 'backoff'") }]],
    [{ id: 'p', queue: 'q', retry_policy: 3 }, [{ path: 'retry_policy', message: 'must be an object {attempts, backoff_sec}' }]],
    [{ id: 'p', queue: 'q', retry_policy: { attempts: 2 }, defaults: { retry: { attempts: 1 } } }, [{ path: 'retry_policy', message: 'cannot be combined with defaults.retry (give one of them)' }]],
    [{ id: 'p', queue: 'q', slaHours: '48' }, [{ path: 'slaHours', message: 'must be a number' }]],
    [{ id: 'p', queue: 'q', slaHours: 1, sla_minutes: 60 }, [{ path: 'sla_minutes', message: 'cannot be combined with slaMinutes or another SLA field (give one of them)' }]],
    [{ id: 'p', queue: 'q', image: '' }, [{ path: 'image', message: 'must be a container image name' }]],
    [{ id: 'p', steps: [{ task: 'a' }] }, [{ path: 'steps[0]', message: 'a task step needs one of agent, role or service' }]],
    [{ id: 'p', steps: [{ task: 'a', role: 'r', service: 's' }] }, [{ path: 'steps[0]', message: 'give only one of role, service' }]],
    [{ id: 'p', steps: [{ task: 'a', agent: 'x', pool: 'q' }] }, [{ path: 'steps[0].task', message: expect.stringContaining('cannot be combined with id or pool') }]],
    [{ id: 'p', steps: [{ task: '!!', agent: 'x' }] }, [{ path: 'steps[0].task', message: 'must be a non-empty name' }]],
  ])('names the field it cannot translate: %j', (source, problems) => {
    expect(problemsOf(() => canonicalPlan(source))).toEqual(problems);
  });

  it('refuses an id given beside a plan that names another', () => {
    expect(problemsOf(() => canonicalPlan({ id: 'a', queue: 'q' }, { id: 'b' }))).toEqual([
      { path: 'id', message: "the plan says 'a' but it was registered as 'b'" },
    ]);
  });

  it('keeps a __proto__ key as a field, so the validator names it', () => {
    const plan = canonicalPlan(JSON.parse('{"id": "p", "queue": "q", "__proto__": {"polluted": true}}'));
    expect(Object.getPrototypeOf(plan)).toBe(Object.prototype);
    expect(validatePlan(plan)).toEqual({ ok: false, problems: [expect.objectContaining({ path: '__proto__' })] });
    expect(problemsOf(() => canonicalPlan(JSON.parse('{"id": "p", "queue": "q", "retry_policy": {"attempts": 2, "__proto__": 1}}')))).toEqual([
      { path: 'retry_policy.__proto__', message: expect.stringContaining("unknown field '__proto__'") },
    ]);
  });

  it('passes what is not an object to the validator', () => {
    expect(canonicalPlan([1])).toEqual([1]);
  });
});

describe('slugOf', () => {
  it.each([
    ['assessSeverity', 'assess_severity'],
    ['SeverityAgent', 'severity_agent'],
    ['Crew Scheduler', 'crew_scheduler'],
    ['HTTPGateway', 'http_gateway'],
    ['farm-grant', 'farm-grant'],
  ])('%s → %s', (name, slug) => expect(slugOf(name)).toBe(slug));
});

describe('inlinePlanOf', () => {
  it('names a plan without id by its content, the same for the same content', () => {
    const workflow = JSON.parse(readFileSync(join(seeds, 'repairWorkflow.json'), 'utf8'));
    const first = inlinePlanOf(workflow);
    expect(first.id).toMatch(/^inline\.[0-9a-f]{16}$/);
    expect(inlinePlanOf(JSON.parse(JSON.stringify(workflow))).id).toBe(first.id);
    expect(inlinePlanOf({ ...workflow, slaHours: 24 }).id).not.toBe(first.id);
    expect(validatePlan(first).ok).toBe(true);
  });

  it('refuses an inline plan with an id (a new version of a registered plan is for those who may register), and reports problems under plan', () => {
    expect(problemsOf(() => inlinePlanOf({ id: 'passport_renewal', queue: 'q' }))).toEqual([{ path: 'plan.id', message: expect.stringContaining('must be absent') }]);
    expect(problemsOf(() => inlinePlanOf({ queue: 'q', slaHours: 'x' }))).toEqual([{ path: 'plan.slaHours', message: 'must be a number' }]);
  });

  it('refuses a schedule in an inline plan, in either form (it runs once)', () => {
    for (const schedule of ['0 0 * * *', { cron: '0 0 * * *' }]) {
      expect(problemsOf(() => inlinePlanOf({ queue: 'q', schedule }))).toEqual([{ path: 'plan.schedule', message: expect.stringContaining('must be absent') }]);
    }
  });
});

describe('readPlanFile (HMS_PLANS_DIR)', () => {
  it('loads a plan file written in a dialect as its canonical plan', async () => {
    expect(await readPlanFile(join(seeds, 'passport.plan.yaml'))).toEqual(canonicalPlan(parsePlanYaml(readFileSync(join(seeds, 'passport.plan.yaml'), 'utf8'))));
    expect(validatePlan(await readPlanFile(join(seeds, 'farm-grant.plan.yaml'))).ok).toBe(true);
  });
});
