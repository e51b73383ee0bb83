/** `@hms-ops/client`: the OPS calls the Management Layer guides show, over `@hms/client`. */
export { OpsClient, metricsOf } from './ops-client';
export type { Metric, MetricName, MetricStream, StreamOptions } from './ops-client';
