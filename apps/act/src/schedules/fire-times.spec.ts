import { fireTimesDue, scheduleReference } from './fire-times';

const at = (iso: string) => new Date(iso);
const isos = (dates: Date[]) => dates.map((d) => d.toISOString());
const GRACE = 5_000;

describe('fireTimesDue', () => {
  it('is empty before the first fire time', () => {
    expect(fireTimesDue({ cron: '0 * * * *' }, at('2026-03-01T10:00:00Z'), at('2026-03-01T10:59:59.999Z'), GRACE)).toEqual([]);
  });

  it('gives a fire time exactly at now, and not one exactly at `after` (already run or before registration)', () => {
    expect(isos(fireTimesDue({ cron: '0 * * * *' }, at('2026-03-01T10:00:00Z'), at('2026-03-01T11:00:00Z'), GRACE))).toEqual(['2026-03-01T11:00:00.000Z']);
    expect(fireTimesDue({ cron: '0 * * * *' }, at('2026-03-01T11:00:00Z'), at('2026-03-01T11:00:00.500Z'), GRACE)).toEqual([]);
  });

  it('gives every per-second fire time within the grace window, oldest first', () => {
    const due = fireTimesDue({ cron: '*/1 * * * * *' }, at('2026-03-01T10:00:00.200Z'), at('2026-03-01T10:00:03.100Z'), GRACE);
    expect(isos(due)).toEqual(['2026-03-01T10:00:01.000Z', '2026-03-01T10:00:02.000Z', '2026-03-01T10:00:03.000Z']);
  });

  it('runs only the most recent missed fire time after a long gap (no flood)', () => {
    // Hourly, down from 10:30 to 15:10: 11:00 … 15:00 were missed; only 15:00 runs.
    expect(isos(fireTimesDue({ cron: '0 * * * *' }, at('2026-03-01T10:30:00Z'), at('2026-03-01T15:10:00Z'), GRACE))).toEqual(['2026-03-01T15:00:00.000Z']);
    // Per second, down for a day: one catch-up, not 86 400 requests.
    expect(fireTimesDue({ cron: '* * * * * *' }, at('2026-03-01T00:00:00Z'), at('2026-03-02T00:00:00.000Z'), 0)).toHaveLength(1);
  });

  it('drops missed fire times older than the grace window when recent ones run', () => {
    const due = fireTimesDue({ cron: '*/1 * * * * *' }, at('2026-03-01T10:00:00Z'), at('2026-03-01T10:01:00.500Z'), 2_000);
    expect(isos(due)).toEqual(['2026-03-01T10:00:59.000Z', '2026-03-01T10:01:00.000Z']);
  });

  it('is empty when now is not after `after`', () => {
    expect(fireTimesDue({ cron: '* * * * * *' }, at('2026-03-01T10:00:00Z'), at('2026-03-01T09:00:00Z'), GRACE)).toEqual([]);
  });

  it.each([
    ['winter (EST, UTC-5)', '2026-01-14T12:00:00Z', '2026-01-15T12:00:00Z', '2026-01-15T05:00:00.000Z'],
    ['summer (EDT, UTC-4)', '2026-07-14T12:00:00Z', '2026-07-15T12:00:00Z', '2026-07-15T04:00:00.000Z'],
  ])('fires midnight America/New_York in %s at the right UTC instant', (_, after, now, expected) => {
    expect(isos(fireTimesDue({ cron: '0 0 * * *', tz: 'America/New_York' }, at(after), at(now), 0))).toEqual([expected]);
  });

  it('reads the cron in UTC when tz is absent', () => {
    expect(isos(fireTimesDue({ cron: '0 0 * * *' }, at('2026-07-14T12:00:00Z'), at('2026-07-15T12:00:00Z'), 0))).toEqual(['2026-07-15T00:00:00.000Z']);
  });
});

describe('scheduleReference', () => {
  it('names the plan and the fire time', () => {
    expect(scheduleReference('nightly_rescore', at('2026-07-15T04:00:00Z'))).toBe('schedule:nightly_rescore:2026-07-15T04:00:00.000Z');
  });
});
