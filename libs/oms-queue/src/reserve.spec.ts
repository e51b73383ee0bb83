import { createFakeFetch } from '../../client/src/testing/fake-fetch';
import { reserve } from './reserve';

const token = `h.${Buffer.from(JSON.stringify({ sub: 'farm-bot@usda.gov' })).toString('base64url')}.s`;
const leased = {
  id: 'task-1',
  requestId: 'job-219',
  stepId: 'process',
  title: 'Process farm form',
  pool: 'farm-grant',
  tags: [],
  payload: { appId: 219 },
  attempt: 1,
  leaseToken: 'lease-1',
  leaseExpiresAt: new Date(Date.now() + 60_000).toISOString(),
};

function withFetch(reply: (path: string) => object) {
  const fake = createFakeFetch((call) => ({ body: reply(call.path) }));
  const original = globalThis.fetch;
  beforeEach(() => {
    fake.calls.length = 0;
    globalThis.fetch = fake.fetch;
    process.env.HMS_URL = 'http://hms.test';
    process.env.HMS_TOKEN = token;
  });
  afterEach(() => {
    globalThis.fetch = original;
    delete process.env.HMS_URL;
    delete process.env.HMS_TOKEN;
  });
  return fake;
}

describe('reserve', () => {
  const fake = withFetch((path) => (path.endsWith('/lease') ? { tasks: [leased] } : { id: 'task-1', status: 'completed' }));

  it("leases one job as the token's subject and completes it on report('done')", async () => {
    const job = await reserve('farm-grant');
    expect(job).toMatchObject({ id: 'task-1', jobId: 'job-219', payload: { appId: 219 }, attempt: 1 });
    expect(fake.calls[0]).toMatchObject({ path: '/v1/pools/farm-grant/lease', json: { worker: 'farm-bot@usda.gov', max: 1, waitSeconds: 5 } });
    await job!.report('done');
    expect(fake.calls[1]).toMatchObject({ path: '/v1/tasks/task-1/complete', json: { leaseToken: 'lease-1', output: {} } });
  });

  it("fails the job with the error on report('fail', err)", async () => {
    const job = await reserve('farm-grant', { worker: 'other', waitSeconds: 0 });
    expect(fake.calls[0].json).toMatchObject({ worker: 'other', waitSeconds: 0 });
    await job!.report('fail', new Error('application 219 is incomplete'));
    expect(fake.calls[1]).toMatchObject({ path: '/v1/tasks/task-1/fail', json: { leaseToken: 'lease-1', error: { message: 'application 219 is incomplete' }, retryable: true } });
  });

  it('refuses an outcome other than done or fail', async () => {
    const job = await reserve('farm-grant');
    await expect(job!.report('finished' as 'done')).rejects.toThrow("report takes 'done' or 'fail', not \"finished\"");
    await job!.report('done');
  });
});

describe('reserve with an empty queue', () => {
  withFetch(() => ({ tasks: [] }));

  it('answers null', async () => {
    await expect(reserve('farm-grant')).resolves.toBeNull();
  });
});
