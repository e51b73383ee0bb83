import { RpcSubjects } from '@hms/contracts';
import { answeredBy, parkedEventHandlers, type RpcRoutes } from '@hms/platform';
import { AlertsHandlers } from './alerts/alerts.handlers';
import { MetricsHandlers } from './metrics/metrics.handlers';
import { ScalingHandlers } from './scaling/scaling.handlers';

const parked = parkedEventHandlers('ops');

/** The handler method of each OPS subject: exactly one each, or this does not compile. */
export const OPS_RPC_ROUTES: RpcRoutes<'ops'> = {
  [RpcSubjects.metricsPools]: answeredBy(MetricsHandlers, 'metricsPools'),
  [RpcSubjects.metricsPrometheus]: answeredBy(MetricsHandlers, 'metricsPrometheus'),
  [RpcSubjects.alertList]: answeredBy(AlertsHandlers, 'alertList'),
  [RpcSubjects.alertAcknowledge]: answeredBy(AlertsHandlers, 'alertAcknowledge'),
  [RpcSubjects.alertResolve]: answeredBy(AlertsHandlers, 'alertResolve'),
  [RpcSubjects.scalingDecisions]: answeredBy(ScalingHandlers, 'scalingDecisions'),
  ...parked.routes,
};
