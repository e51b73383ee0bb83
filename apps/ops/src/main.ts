import { loadConfig, runMain, startTracing } from '@hms/platform';

startTracing('ops');
runMain(async () => {
  // Required only after tracing started, so that pg and http get instrumented.
  const { bootstrapService } = require('@hms/platform') as typeof import('@hms/platform');
  const { OpsConfig } = require('./ops.config') as typeof import('./ops.config');
  const { createOpsModule } = require('./ops.module') as typeof import('./ops.module');
  const config = loadConfig(OpsConfig);
  await bootstrapService(createOpsModule(config), { port: config.PORT });
});
