import { DomainError, RpcSubjects } from '@hms/contracts';
import { initDefaultMetrics } from '@hms/platform';
import pino from 'pino';
import type { RpcGateway } from '../http/rpc-gateway';
import { PrometheusController } from './prometheus.controller';

const OPS_SERIES = '# HELP hms_tasks_queued Tasks waiting in the pool\n# TYPE hms_tasks_queued gauge\nhms_tasks_queued{pool="hud_case_workers",service="ops"} 7\n';

function controller(answer: () => Promise<{ text: string }>) {
  const calls: string[] = [];
  const rpc = { call: (subject: string) => (calls.push(subject), answer()) } as unknown as RpcGateway;
  return { controller: new PrometheusController(rpc, pino({ level: 'silent' })), calls };
}

describe(PrometheusController.name, () => {
  beforeAll(() => initDefaultMetrics('api-gateway'));

  it("serves the gateway's process metrics followed by OPS's per-pool series", async () => {
    const { controller: metrics, calls } = controller(async () => ({ text: OPS_SERIES }));
    const text = await metrics.metrics();
    expect(calls).toEqual([RpcSubjects.metricsPrometheus]);
    expect(text).toMatch(/^process_cpu_user_seconds_total\{service="api-gateway"\} /m);
    expect(text.endsWith(`\n${OPS_SERIES}`)).toBe(true);
  });

  it('still answers without OPS, saying in a comment that the per-pool series are missing', async () => {
    const { controller: metrics } = controller(() => Promise.reject(new DomainError('UNAVAILABLE', 'ops did not answer')));
    const text = await metrics.metrics();
    expect(text).toMatch(/^process_cpu_user_seconds_total\{service="api-gateway"\} /m);
    expect(text).toMatch(/^# The per-pool series \(hms_\*\) are missing: OPS did not answer\.\n$/m);
    expect(text).not.toMatch(/^hms_/m);
  });
});
