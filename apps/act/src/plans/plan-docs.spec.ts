import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PLAN_JSON_SCHEMA } from '@hms/contracts';
import { validatePlan } from './plan.validator';
import { planFilesIn, readPlanFile } from './plans.loader';

const root = join(__dirname, '..', '..', '..', '..');
const examples = join(root, 'examples', 'plans');

describe('docs/plan.schema.json', () => {
  it('is PLAN_JSON_SCHEMA of the contracts, as published JSON', () => {
    const text = readFileSync(join(root, 'docs', 'plan.schema.json'), 'utf8');
    expect(JSON.parse(text)).toEqual(PLAN_JSON_SCHEMA);
    expect(text).toBe(`${JSON.stringify(PLAN_JSON_SCHEMA, null, 2)}\n`);
  });
});

describe('examples/plans', () => {
  it('holds the four example plans', async () => {
    expect(await planFilesIn(examples)).toEqual([
      'disaster-voucher.plan.yaml',
      'nightly-rescore.plan.yaml',
      'passport-renewal.plan.yaml',
      'pothole-repair.plan.yaml',
    ]);
  });

  it.each(['disaster-voucher', 'nightly-rescore', 'passport-renewal', 'pothole-repair'])('%s validates', async (name) => {
    const result = validatePlan(await readPlanFile(join(examples, `${name}.plan.yaml`)));
    expect(result).toEqual({ ok: true, plan: expect.any(Object) });
  });

  it('routes the disaster voucher through HUD, FEMA and the payments bots in order', async () => {
    const plan = (await readPlanFile(join(examples, 'disaster-voucher.plan.yaml'))) as { slaMinutes: number; steps: Array<Record<string, unknown>> };
    expect(plan.slaMinutes).toBeGreaterThan(0);
    expect(plan.steps.map((s) => [s.id, s.pool, s.after])).toEqual([
      ['verify_income', 'hud_case_workers', undefined],
      ['inspect', 'fema_inspectors', undefined],
      ['pay', 'payments', undefined],
    ]);
    expect(plan.steps[0].tags).toEqual(['income_check']);
    expect(plan.steps.every((s) => typeof s.title === 'string')).toBe(true);
  });

  it('gives the pothole repair a 48 hour SLA and an approval', async () => {
    const plan = (await readPlanFile(join(examples, 'pothole-repair.plan.yaml'))) as { slaMinutes: number; steps: Array<{ approval?: boolean }> };
    expect(plan.slaMinutes).toBe(2880);
    expect(plan.steps.some((s) => s.approval === true)).toBe(true);
  });

  it('schedules the nightly re-score at midnight New York time, fanned out over its files', async () => {
    const plan = (await readPlanFile(join(examples, 'nightly-rescore.plan.yaml'))) as { schedule: unknown; steps: Array<Record<string, unknown>> };
    expect(plan.schedule).toMatchObject({ cron: '0 0 * * *', tz: 'America/New_York' });
    expect(plan.steps[0]).toMatchObject({ forEach: 'lists.range(payload.files)', onItemFailure: 'continue' });
    expect(plan.steps[1]).toMatchObject({ input: { unscored: 'steps.rescore.failed' } });
  });

  it('gives the passport renewal a conditional approval and an optional print with retries', async () => {
    const plan = (await readPlanFile(join(examples, 'passport-renewal.plan.yaml'))) as { steps: Array<Record<string, unknown>> };
    expect(plan.steps.map((s) => s.id)).toEqual(['ai_extract', 'human_verify', 'external_print']);
    expect(plan.steps[1]).toMatchObject({ when: expect.stringContaining('confidence'), approval: true, input: { extracted: 'steps.ai_extract.output' } });
    expect(plan.steps[2]).toMatchObject({ optional: true, retry: { attempts: expect.any(Number) } });
  });
});
