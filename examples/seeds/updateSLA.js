// updateSLA.js  (11 lines)
import { ActClient } from '@hms-act/client';

await ActClient.setSLA({
  queue: 'farm-grant',
  minutes: 5          // tighter deadline
});
console.log('✅ SLA updated to 5 min');
