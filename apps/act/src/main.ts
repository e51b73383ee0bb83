import { loadConfig, runMain, startTracing } from '@hms/platform';

startTracing('act');
runMain(async () => {
  // Required only after tracing started, so that pg and http get instrumented.
  const { bootstrapService } = require('@hms/platform') as typeof import('@hms/platform');
  const { ActConfig } = require('./act.config') as typeof import('./act.config');
  const { createActModule } = require('./act.module') as typeof import('./act.module');
  const config = loadConfig(ActConfig);
  await bootstrapService(createActModule(config), { port: config.PORT });
});
