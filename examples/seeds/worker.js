// worker.js
import { reserve } from '@hms-oms/queue';

async function loop() {
  const job = await reserve('farm-grant');
  if (!job) return setTimeout(loop, 1000);

  try {
    await process(job.payload);      // pretend work here
    await job.report('done');
  } catch (err) {
    await job.report('fail', err);
  }
  loop();
}

loop();

// The guide leaves the work out; this stand-in fails the applications marked to fail.
async function process(payload) {
  if (payload.fail) throw new Error(`application ${payload.appId} is incomplete`);
}
