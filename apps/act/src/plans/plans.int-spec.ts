import { join } from 'node:path';
import { DomainError, type PlanDefinition } from '@hms/contracts';
import { rpcError, startAct, type ActHarness } from '../testing/act-harness';

// Booting the service and waiting for consumers takes seconds on a busy CI machine.
jest.setTimeout(30_000);

const EXAMPLES = join(__dirname, '..', '..', '..', '..', 'examples', 'plans');

const benefitsYaml = `
id: benefits_review
title: Benefits review
slaMinutes: 600
steps:
  - id: check
    title: Check eligibility
    pool: benefits_clerks
    tags: [eligibility]
  - id: decide
    pool: benefits_managers
    approval: true
`;

/** The same plan as JSON, keys in another order. */
const benefitsJson: PlanDefinition = {
  steps: [
    { tags: ['eligibility'], pool: 'benefits_clerks', title: 'Check eligibility', id: 'check' },
    { approval: true, pool: 'benefits_managers', id: 'decide' },
  ],
  slaMinutes: 600,
  title: 'Benefits review',
  id: 'benefits_review',
};

describe('ACT plans over NATS', () => {
  let act: ActHarness;

  beforeAll(async () => {
    act = await startAct('act_plans', { HMS_PLANS_DIR: EXAMPLES });
  });

  afterAll(async () => {
    await act?.close();
  });

  it('registers the plans of HMS_PLANS_DIR at start-up', async () => {
    const { items } = await act.call('act.plan.list', {});
    expect(items.map((p) => [p.id, p.latestVersion])).toEqual(
      expect.arrayContaining([
        ['disaster_voucher', 1],
        ['nightly_rescore', 1],
        ['passport_renewal', 1],
        ['pothole_repair', 1],
      ]),
    );
    const voucher = await act.call('act.plan.get', { id: 'disaster_voucher' });
    expect(voucher.createdBy).toBe('system:act');
    expect(voucher.definition.steps.map((s) => s.pool)).toEqual(['hud_case_workers', 'fema_inspectors', 'payments']);
  });

  it('creates version 1 from YAML, returns it for identical YAML or JSON, and makes version 2 from changed content', async () => {
    const registered = act.collect('act.plan.registered');
    expect(await act.call('act.plan.register', { yaml: benefitsYaml })).toEqual({ id: 'benefits_review', version: 1, created: true });
    expect(await act.call('act.plan.register', { yaml: benefitsYaml })).toEqual({ id: 'benefits_review', version: 1, created: false });
    expect(await act.call('act.plan.register', { definition: benefitsJson as unknown as Record<string, unknown> })).toEqual({
      id: 'benefits_review',
      version: 1,
      created: false,
    });
    const changed = { ...benefitsJson, slaMinutes: 900 };
    expect(await act.call('act.plan.register', { definition: changed as unknown as Record<string, unknown> })).toEqual({
      id: 'benefits_review',
      version: 2,
      created: true,
    });

    const event = await registered.waitFor((e) => e.data.plan === 'benefits_review' && e.data.version === 2);
    expect(event).toMatchObject({ type: 'act.plan.registered', requestId: null, source: 'act', actor: 'manager@hms' });
    expect(registered.events.filter((e) => e.data.plan === 'benefits_review')).toHaveLength(2);

    const latest = await act.call('act.plan.get', { id: 'benefits_review' });
    expect(latest).toMatchObject({ id: 'benefits_review', version: 2, title: 'Benefits review', createdBy: 'manager@hms' });
    expect(latest.definition.slaMinutes).toBe(900);
    expect(latest.contentHash).toMatch(/^[0-9a-f]{64}$/);
    const first = await act.call('act.plan.get', { id: 'benefits_review', version: 1 });
    expect(first.definition.slaMinutes).toBe(600);
    expect(first.contentHash).not.toBe(latest.contentHash);

    const { items } = await act.call('act.plan.list', {});
    expect(items.find((p) => p.id === 'benefits_review')).toMatchObject({ latestVersion: 2, title: 'Benefits review' });
  });

  it('makes an older definition the latest again when it is registered again', async () => {
    const base: PlanDefinition = { id: 'revert_me', steps: [{ id: 'a', pool: 'q' }] };
    await act.call('act.plan.register', { definition: base as unknown as Record<string, unknown> });
    await act.call('act.plan.register', { definition: { ...base, title: 'v2' } as unknown as Record<string, unknown> });
    expect(await act.call('act.plan.register', { definition: base as unknown as Record<string, unknown> })).toEqual({ id: 'revert_me', version: 3, created: true });
  });

  it('gives every registration of one new plan the same version when they race', async () => {
    const plan = { id: 'raced', steps: [{ id: 'a', pool: 'q' }] };
    const results = await Promise.all(Array.from({ length: 8 }, () => act.call('act.plan.register', { definition: plan })));
    expect(new Set(results.map((r) => r.version))).toEqual(new Set([1]));
    expect(results.filter((r) => r.created)).toHaveLength(1);
  });

  it('refuses an invalid plan with every problem and its path', async () => {
    const error = await rpcError(
      act.call('act.plan.register', {
        yaml: `
id: Broken Plan
colour: red
schedule: { cron: "99 * * * *", tz: Mars/Base }
steps:
  - id: a
    pool: q
    after: [c]
  - id: b
    pool: q
    after: [ghost]
    when: "steps.a.output.x >"
  - id: c
    pool: q
    after: [a]
`,
      }),
    );
    expect(error).toBeInstanceOf(DomainError);
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.message).toBe('The plan is not valid (7 problems)');
    expect(error.details?.map((d) => d.path)).toEqual(['id', 'colour', 'steps[1].after', 'steps[0].after', 'steps[1].when', 'schedule.tz', 'schedule.cron']);
    expect(error.details?.find((d) => d.path === 'steps[0].after')?.message).toBe('cycle: a → c → a');
    const { items } = await act.call('act.plan.list', {});
    expect(items.map((p) => p.id)).not.toContain('Broken Plan');
  });

  it('reports a YAML syntax error with its line', async () => {
    const error = await rpcError(act.call('act.plan.register', { yaml: 'id: p\nsteps:\n  - id: a\n    pool: [q\n' }));
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.details).toEqual([{ path: 'yaml', message: expect.stringMatching(/^line 5, column 1: /) }]);
  });

  it('refuses a message with both or neither of definition and yaml, or with unknown fields', async () => {
    expect((await rpcError(act.call('act.plan.register', {}))).code).toBe('VALIDATION_FAILED');
    expect((await rpcError(act.call('act.plan.register', { yaml: 'id: p', definition: { id: 'p' } }))).code).toBe('VALIDATION_FAILED');
    const unknown = await rpcError(act.call('act.plan.register', { yml: 'id: p' } as never));
    expect(unknown.code).toBe('VALIDATION_FAILED');
  });

  it('translates a seed dialect, under the id given beside a file that has none', async () => {
    const repair = { steps: [{ task: 'assessSeverity', agent: 'SeverityAgent' }, { task: 'humanApproval', role: 'Supervisor' }], slaHours: 48 };
    expect(await act.call('act.plan.register', { definition: repair, id: 'seed_repair' })).toEqual({ id: 'seed_repair', version: 1, created: true });
    const stored = await act.call('act.plan.get', { id: 'seed_repair' });
    expect(stored.definition).toEqual({
      id: 'seed_repair',
      slaMinutes: 2880,
      steps: [
        { id: 'assess_severity', title: 'assessSeverity', pool: 'severity_agent' },
        { id: 'human_approval', title: 'humanApproval', pool: 'supervisor' },
      ],
    });
    const clash = await rpcError(act.call('act.plan.register', { definition: { ...repair, id: 'other' }, id: 'seed_repair' }));
    expect(clash.details).toEqual([{ path: 'id', message: "the plan says 'other' but it was registered as 'seed_repair'" }]);
    const notASlug = await rpcError(act.call('act.plan.register', { definition: repair, id: 'Seed Repair' }));
    expect(notASlug.code).toBe('VALIDATION_FAILED');
    const yaml = await act.call('act.plan.register', { yaml: 'lanes: [scan, verify]\nretry_policy: {attempts: 2, backoff_sec: 5}\n', id: 'seed_lanes' });
    expect(yaml).toEqual({ id: 'seed_lanes', version: 1, created: true });
  });

  it('creates a request of a plan given inline, registering it once by its content', async () => {
    const workflow = { steps: [{ task: 'assessSeverity', agent: 'SeverityAgent' }], slaHours: 1 };
    const first = await act.call('act.request.create', { plan: workflow, payload: { reportId: 'pothole-1' } });
    const second = await act.call('act.request.create', { plan: { ...workflow }, payload: { reportId: 'pothole-2' } });
    expect(first.request.plan).toMatch(/^inline\.[0-9a-f]{16}$/);
    expect([second.request.plan, second.request.version]).toEqual([first.request.plan, 1]);
    expect((await act.call('act.plan.get', { id: first.request.plan })).definition.steps).toEqual([{ id: 'assess_severity', title: 'assessSeverity', pool: 'severity_agent' }]);

    const named = await rpcError(act.call('act.request.create', { plan: { ...workflow, id: 'disaster_voucher' } }));
    expect(named.details).toEqual([{ path: 'plan.id', message: expect.stringContaining('must be absent') }]);
    const invalid = await rpcError(act.call('act.request.create', { plan: { steps: [{ task: 'a', agent: 'b', after: ['nope'] }] } }));
    expect(invalid.details).toEqual([{ path: 'plan.steps[0].after', message: "unknown step 'nope'" }]);
    const notAPlan = await rpcError(act.call('act.request.create', { plan: 42 } as never));
    expect(notAPlan.code).toBe('VALIDATION_FAILED');
    expect((await act.call('act.plan.get', { id: 'disaster_voucher' })).version).toBe(1);
  });

  it('answers NOT_FOUND for unknown plans and versions', async () => {
    const missing = await rpcError(act.call('act.plan.get', { id: 'nope' }));
    expect([missing.code, missing.message]).toEqual(['NOT_FOUND', "Plan 'nope' was not found"]);
    const version = await rpcError(act.call('act.plan.get', { id: 'disaster_voucher', version: 9 }));
    expect([version.code, version.message]).toEqual(['NOT_FOUND', "Plan 'disaster_voucher' has no version 9"]);
  });
});
