import { Cron } from 'croner';
import type { PlanSchedule } from '@hms/contracts';

/** A parsed schedule: the same croner mode the plan validator accepts (5 fields, or 6 with seconds). */
export function cronOf(schedule: Pick<PlanSchedule, 'cron' | 'tz'>): Cron {
  // Paused: croner only computes times here; the scheduler's own tick decides when to act.
  return new Cron(schedule.cron, { paused: true, mode: '5-or-6-parts', timezone: schedule.tz ?? 'UTC' });
}

/** Fires in a grace window that may still run in full; a safety cap against a pathological window. */
const MAX_RECENT_FIRES = 1000;

/**
 * The fire times a scheduler should run now, oldest first: fire times in `(after, now]` where
 * `after` is the later of the plan version's registration and the last fire already run.
 *
 * Catch-up: fire times within `graceMs` of `now` (a scheduler that is merely a tick or two late)
 * all run. When none falls in that window but older ones were missed (the service was down, or
 * the plan was idle longer than the grace), only the most recent missed fire time runs, once,
 * instead of a flood of one request per missed time. Fire times older than the grace window are
 * also dropped when newer ones run, since those newer requests stand for the interval.
 */
export function fireTimesDue(schedule: Pick<PlanSchedule, 'cron' | 'tz'>, after: Date, now: Date, graceMs: number): Date[] {
  if (now.getTime() <= after.getTime()) return [];
  const cron = cronOf(schedule);
  // previousRuns includes a run earlier in the reference's second but not one exactly at it: +1 ms
  // makes a fire at exactly `now` due.
  const latest = cron.previousRuns(1, new Date(now.getTime() + 1))[0];
  if (!latest || latest.getTime() <= after.getTime()) return [];
  const cutoff = new Date(Math.max(after.getTime(), now.getTime() - graceMs));
  const recent: Date[] = [];
  for (let next = cron.nextRun(cutoff); next && next.getTime() <= now.getTime() && recent.length < MAX_RECENT_FIRES; next = cron.nextRun(next)) {
    recent.push(next);
  }
  return recent.length > 0 ? recent : [latest];
}

/** The `reference` of a scheduled request: which plan and which fire time it stands for. */
export function scheduleReference(plan: string, fireAt: Date): string {
  return `schedule:${plan}:${fireAt.toISOString()}`;
}
