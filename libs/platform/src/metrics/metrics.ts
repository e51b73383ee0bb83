import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * The Prometheus registry of this process. One per process, so every module registers into the
 * same `/metrics` page.
 */
export const metricsRegistry = new Registry();
let defaultsCollected = false;

export function initDefaultMetrics(service: string): void {
  if (defaultsCollected) return;
  metricsRegistry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: metricsRegistry });
  defaultsCollected = true;
}
