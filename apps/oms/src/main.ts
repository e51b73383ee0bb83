import { loadConfig, runMain, startTracing } from '@hms/platform';

startTracing('oms');
runMain(async () => {
  // Required only after tracing started, so that pg and http get instrumented.
  const { bootstrapService } = require('@hms/platform') as typeof import('@hms/platform');
  const { OmsConfig } = require('./oms.config') as typeof import('./oms.config');
  const { createOmsModule } = require('./oms.module') as typeof import('./oms.module');
  const config = loadConfig(OmsConfig);
  await bootstrapService(createOmsModule(config), { port: config.PORT });
});
