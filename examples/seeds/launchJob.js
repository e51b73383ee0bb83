// launchJob.js  (17 lines)
import { ActClient } from '@hms-act/client';
// @hms-auth/client (the guide's Chapter 2 badge) is not part of HMS: the badge is HMS_TOKEN.
const getToken = async ({ actor }) => process.env.HMS_TOKEN;

async function run() {
  const token = await getToken({ actor: 'nora@usda.gov' });

  const res = await ActClient.startJob({
    headers: { Authorization: `Bearer ${token}` },
    jobType: 'farm:grant:v1',
    payload: { appId: 219 },
    slaMinutes: 10
  });

  console.log('🚜 Job ticket:', res.jobId);
}

run();
