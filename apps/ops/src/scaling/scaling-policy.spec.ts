import { decideReplicas, replicasFor } from './scaling-policy';

const policy = { tasksPerReplica: 50, minReplicas: 1, maxReplicas: 10, cooldownSeconds: 120 };
const now = new Date('2026-12-05T10:00:00.000Z');
const secondsAgo = (seconds: number) => new Date(now.getTime() - seconds * 1000);

describe('replicasFor', () => {
  it.each([
    [0, 1],
    [1, 1],
    [50, 1],
    [51, 2],
    [449, 9],
    [450, 9],
    [451, 10],
    [100_000, 10],
  ])('%i queued at 50 per replica within 1..10 is %i', (queued, replicas) => {
    expect(replicasFor(queued, policy)).toBe(replicas);
  });

  it('lets a bot pool sleep at zero and wake on the first task', () => {
    const bots = { tasksPerReplica: 20, minReplicas: 0, maxReplicas: 3 };
    expect(replicasFor(0, bots)).toBe(0);
    expect(replicasFor(1, bots)).toBe(1);
  });
});

describe('decideReplicas', () => {
  it('follows the arithmetic on a pool with no decision yet, and says why', () => {
    const decision = decideReplicas({ queued: 120, policy, previous: null, now });
    expect(decision).toEqual({ desired: 3, wanted: 3, held: false, reason: '120 queued / 50 per replica, within 1..10: 3' });
  });

  it('holds a change, up or down, until the cooldown since the last change is over', () => {
    const up = decideReplicas({ queued: 400, policy, previous: { desired: 3, desiredSince: secondsAgo(119) }, now });
    expect(up).toMatchObject({ desired: 3, wanted: 8, held: true });
    expect(up.reason).toContain('held at 3 by the 120 s cooldown until 2026-12-05T10:00:01.000Z');
    expect(decideReplicas({ queued: 0, policy, previous: { desired: 3, desiredSince: secondsAgo(10) }, now })).toMatchObject({ desired: 3, wanted: 1, held: true });
    expect(decideReplicas({ queued: 400, policy, previous: { desired: 3, desiredSince: secondsAgo(120) }, now })).toMatchObject({ desired: 8, held: false });
  });

  it('is not held when nothing changes, however recent the last change', () => {
    expect(decideReplicas({ queued: 140, policy, previous: { desired: 3, desiredSince: secondsAgo(1) }, now })).toMatchObject({ desired: 3, held: false });
  });

  it('uses a 60 s cooldown when the pool sets none, and none when it sets 0', () => {
    const { cooldownSeconds: _, ...noCooldownSet } = policy;
    expect(decideReplicas({ queued: 400, policy: noCooldownSet, previous: { desired: 3, desiredSince: secondsAgo(59) }, now })).toMatchObject({ desired: 3, held: true });
    expect(decideReplicas({ queued: 400, policy: noCooldownSet, previous: { desired: 3, desiredSince: secondsAgo(60) }, now })).toMatchObject({ desired: 8, held: false });
    expect(decideReplicas({ queued: 400, policy: { ...policy, cooldownSeconds: 0 }, previous: { desired: 3, desiredSince: now }, now })).toMatchObject({ desired: 8, held: false });
  });

  it('moves into new bounds after the cooldown when the policy changed', () => {
    expect(decideReplicas({ queued: 0, policy: { ...policy, minReplicas: 4 }, previous: { desired: 1, desiredSince: secondsAgo(600) }, now })).toMatchObject({ desired: 4 });
  });
});
