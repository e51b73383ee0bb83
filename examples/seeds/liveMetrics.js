// liveMetrics.js  (12 lines)
import { OpsClient } from '@hms-ops/client';

OpsClient.stream('farm-grant', metric => {
  console.log('📊', metric.name, metric.value);
});
