import { Counter } from 'prom-client';
import { metricsRegistry } from '@hms/platform';

/** Leases handed out by this replica (OPS owns the fleet-wide gauges; this is OMS's own view). */
export const leasesGranted = new Counter({
  name: 'hms_oms_leases_granted_total',
  help: 'Leases granted by this OMS replica',
  labelNames: ['pool'],
  registers: [metricsRegistry],
});
