import { Inject, Injectable, Module, type DynamicModule, type OnApplicationBootstrap } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { LOGGER, PlatformModule, Readiness, TokenVerifier, tokenVerifierOf } from '@hms/platform';
import type { Logger } from 'pino';
import { AuthGuard } from './auth/auth.guard';
import { RateLimits } from './auth/rate-limits';
import { GatewayConfig } from './gateway.config';
import { ApiErrorFilter } from './http/api-error.filter';
import { RpcGateway } from './http/rpc-gateway';
import { PoolMetricsController } from './metrics/metrics.controller';
import { PrometheusController } from './metrics/prometheus.controller';
import { AlertsController } from './alerts/alerts.controller';
import { MetricsStream } from './metrics/metrics-stream';
import { ScalingController } from './scaling/scaling.controller';
import { ParkedEventsController } from './parked-events/parked-events.controller';
import { DashboardController } from './dashboard/dashboard.controller';
import { PlansController } from './plans/plans.controller';
import { PoolsController } from './pools/pools.controller';
import { RequestsController } from './requests/requests.controller';
import { TasksController } from './tasks/tasks.controller';
import { WorkersController } from './workers/workers.controller';

/** The gateway owns nothing durable: it is ready as soon as NATS is connected. */
@Injectable()
class GatewayReadiness implements OnApplicationBootstrap {
  constructor(
    private readonly readiness: Readiness,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.readiness.ready = true;
    this.logger.info('gateway started');
  }
}

@Module({})
export class GatewayModule {}

/** Every HTTP route of the gateway (also what the OpenAPI document is built from). */
export const GATEWAY_CONTROLLERS = [
  PlansController,
  RequestsController,
  PoolsController,
  TasksController,
  WorkersController,
  PoolMetricsController,
  AlertsController,
  ScalingController,
  ParkedEventsController,
  DashboardController,
  PrometheusController,
];

export function createGatewayModule(config: GatewayConfig): DynamicModule {
  return {
    module: GatewayModule,
    imports: [PlatformModule.forService({ service: 'api-gateway', config, serveMetrics: false })],
    controllers: GATEWAY_CONTROLLERS,
    providers: [
      { provide: GatewayConfig, useValue: config },
      { provide: TokenVerifier, useValue: tokenVerifierOf(config) },
      RateLimits,
      RpcGateway,
      MetricsStream,
      GatewayReadiness,
      { provide: APP_GUARD, useClass: AuthGuard },
      { provide: APP_FILTER, useClass: ApiErrorFilter },
    ],
  };
}
