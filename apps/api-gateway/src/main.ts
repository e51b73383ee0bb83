import { loadConfig, runMain, startTracing } from '@hms/platform';

startTracing('api-gateway');
runMain(async () => {
  // Required only after tracing started, so that node:http gets instrumented.
  const { bootstrapService, ConfigError } = require('@hms/platform') as typeof import('@hms/platform');
  const { GatewayConfig } = require('./gateway.config') as typeof import('./gateway.config');
  const { createGatewayModule } = require('./gateway.module') as typeof import('./gateway.module');
  const { configureHttp, gatewayHttpOptions } = require('./http/configure-http') as typeof import('./http/configure-http');
  const config = loadConfig(GatewayConfig);
  if (!config.HMS_JWT_SECRET && !config.HMS_JWT_JWKS_URL) throw new ConfigError(['HMS_JWT_SECRET or HMS_JWT_JWKS_URL must be set']);
  await bootstrapService(createGatewayModule(config), { port: config.PORT, http: gatewayHttpOptions(config), configure: (app) => configureHttp(app, config) });
});
