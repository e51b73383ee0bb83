// checkQueue.js  (9 lines)
import { OmsClient } from '@hms-oms/client';

const q = await OmsClient.peek('farm-grant');
console.table(q.jobs.slice(0,3));
