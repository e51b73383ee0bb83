import { alertTransition, escalates, WEBHOOK_MAX_ATTEMPTS, webhookRetryDelaySeconds } from './alert.state';

describe(alertTransition.name, () => {
  it.each([
    ['open', 'acknowledge', 'acknowledged'],
    ['acknowledged', 'acknowledge', 'unchanged'],
    ['resolved', 'acknowledge', 'refused'],
    ['open', 'resolve', 'resolved'],
    ['acknowledged', 'resolve', 'resolved'],
    ['resolved', 'resolve', 'unchanged'],
  ] as const)('%s + %s → %s', (status, action, expected) => {
    expect(alertTransition(status, action)).toBe(expected);
  });
});

describe(escalates.name, () => {
  it('escalates only an alert nobody acknowledged', () => {
    expect([escalates('open'), escalates('acknowledged'), escalates('resolved')]).toEqual([true, false, false]);
  });
});

describe(webhookRetryDelaySeconds.name, () => {
  it('doubles from 5 s and stops growing at 5 minutes', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map(webhookRetryDelaySeconds)).toEqual([5, 10, 20, 40, 80, 160, 300]);
  });

  it('gives up after about ten minutes of retries', () => {
    let total = 0;
    for (let attempt = 1; attempt < WEBHOOK_MAX_ATTEMPTS; attempt += 1) total += webhookRetryDelaySeconds(attempt);
    expect(total).toBe(615);
  });
});
