import { toQueuedJob } from './oms-client';

describe('toQueuedJob', () => {
  const task = { requestId: 'job-219', status: 'queued' as const, slaDueAt: '2026-06-10T10:05:00.000Z' };

  it('shows a queued task as a waiting job with the earlier of the two SLAs', () => {
    expect(toQueuedJob(task, '2026-06-10T10:07:55.000Z')).toEqual({ id: 'job-219', status: 'waiting', slaExpires: '2026-06-10T10:05:00.000Z' });
    expect(toQueuedJob(task, '2026-06-10T10:01:00.000Z').slaExpires).toBe('2026-06-10T10:01:00.000Z');
  });

  it('uses whichever SLA exists, and null without any', () => {
    expect(toQueuedJob({ ...task, slaDueAt: null }, '2026-06-10T10:07:55.000Z').slaExpires).toBe('2026-06-10T10:07:55.000Z');
    expect(toQueuedJob(task, null).slaExpires).toBe(task.slaDueAt);
    expect(toQueuedJob({ ...task, slaDueAt: null }, null).slaExpires).toBeNull();
  });

  it('keeps any other task status as it is', () => {
    expect(toQueuedJob({ ...task, status: 'leased' }, null).status).toBe('leased');
  });
});
