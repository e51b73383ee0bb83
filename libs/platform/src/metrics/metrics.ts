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

/**
 * The series of this process whose names start with `prefix`, in the text exposition format:
 * the domain series a service lends to another's `/metrics` page, without its process metrics.
 */
export async function seriesText(prefix: string): Promise<string> {
  const names = metricsRegistry
    .getMetricsAsArray()
    .map((metric) => metric.name)
    .filter((name) => name.startsWith(prefix))
    .sort();
  const parts = await Promise.all(names.map((name) => metricsRegistry.getSingleMetricAsString(name)));
  return parts.map((part) => `${part}\n`).join('');
}
