import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PoolMetrics, ScalingDecisionView } from '@hms/contracts';
import { HmsApiError, HmsClient, type MetricsStreamEvent } from '@hms/client';
import { startE2eStack, waitUntil, workPool } from './support/e2e-stack';

interface ScaleCall {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

/**
 * The Kubernetes API as far as OPS uses it: the scale subresource of Deployments in namespace
 * `hms` (GET, and PATCH with a merge patch of `spec.replicas`), answering 404 with a Status for
 * a Deployment it does not have, as the real API server does. No cluster runs on this machine.
 */
async function startKubernetesApi(deployments: Record<string, number>): Promise<{ url: string; replicas: Record<string, number>; calls: ScaleCall[]; close(): Promise<void> }> {
  const calls: ScaleCall[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const path = request.url ?? '';
      calls.push({ method: request.method ?? '', path, headers: request.headers, body: text ? JSON.parse(text) : undefined });
      const reply = (status: number, body: unknown) => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(body));
      };
      const match = /^\/apis\/apps\/v1\/namespaces\/hms\/deployments\/([a-z0-9-]+)\/scale$/.exec(path);
      const name = match?.[1];
      if (!name || !(name in deployments)) {
        return reply(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: `deployments.apps "${name ?? path}" not found`, reason: 'NotFound', code: 404 });
      }
      if (request.method === 'PATCH') {
        if (request.headers['content-type'] !== 'application/merge-patch+json') return reply(415, { kind: 'Status', message: 'unsupported patch type', code: 415 });
        deployments[name] = (JSON.parse(text) as { spec: { replicas: number } }).spec.replicas;
      }
      reply(200, { kind: 'Scale', apiVersion: 'autoscaling/v1', metadata: { name, namespace: 'hms' }, spec: { replicas: deployments[name] }, status: { replicas: deployments[name] } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, replicas: deployments, calls, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/**
 * The nightly benefits re-score runs on a bot Deployment that OPS scales to its queue: it wakes
 * from the night's single replica as the batch arrives, and shrinks back when the batch is done.
 * Operators follow it on the live metrics stream and in the decisions log.
 */
describe('Autoscaling and the live metrics stream through the gateway', () => {
  let env: Awaited<ReturnType<typeof startE2eStack>>;
  let kubernetes: Awaited<ReturnType<typeof startKubernetesApi>>;
  let scratch: string;

  beforeAll(async () => {
    kubernetes = await startKubernetesApi({ 'rescore-bot': 5 });
    scratch = mkdtempSync(join(tmpdir(), 'hms-e2e-k8s-'));
    // As `kubectl config view --raw` would write it for a cluster reached through `kubectl proxy`-style plain HTTP.
    writeFileSync(
      join(scratch, 'kubeconfig'),
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '  - name: city-hall',
        '    cluster:',
        `      server: ${kubernetes.url}`,
        '      insecure-skip-tls-verify: true',
        'users:',
        '  - name: hms-ops',
        '    user:',
        '      token: ops-service-account-token',
        'contexts:',
        '  - name: city-hall',
        '    context: { cluster: city-hall, user: hms-ops }',
        'current-context: city-hall',
        '',
      ].join('\n'),
    );
    env = await startE2eStack('e2e_scaling', { OPS_SCALING_INTERVAL_MS: '200', OPS_KUBECONFIG: join(scratch, 'kubeconfig') });
  });

  afterAll(async () => {
    await env?.dispose();
    await kubernetes?.close();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  const decisionsOf = async (pool: string): Promise<ScalingDecisionView[]> => {
    const decisions: ScalingDecisionView[] = [];
    for await (const decision of env.manager.scaling.decisionsAll({ pool, limit: 2 })) decisions.push(decision);
    return decisions;
  };

  it('scales the target Deployment to the queue, within bounds, and says so in the log, the snapshot and /metrics', async () => {
    const { manager, stack } = env;
    await manager.pools.put('benefits_rescore', {
      kind: 'bot',
      autoscale: { tasksPerReplica: 2, minReplicas: 1, maxReplicas: 3, cooldownSeconds: 0, target: { namespace: 'hms', deployment: 'rescore-bot' } },
    });
    // An empty queue: the 5 replicas someone left running come down to the minimum.
    await waitUntil(async () => kubernetes.replicas['rescore-bot'] === 1);
    const patches = kubernetes.calls.filter((call) => call.method === 'PATCH');
    expect(patches[0]).toMatchObject({ path: '/apis/apps/v1/namespaces/hms/deployments/rescore-bot/scale', body: { spec: { replicas: 1 } } });
    expect(patches[0]!.headers.authorization).toBe('Bearer ops-service-account-token');

    await manager.plans.register({ id: 'nightly_rescore', steps: [{ id: 'rescore', pool: 'benefits_rescore' }] });
    for (let i = 0; i < 5; i++) await manager.requests.create({ plan: 'nightly_rescore', payload: { household: i } });
    // ceil(5 / 2) = 3, which is also the maximum.
    await waitUntil(async () => kubernetes.replicas['rescore-bot'] === 3);

    // Newest first. The requests arrive one by one, so a round may have seen 3 or 4 queued (2 replicas) on the way.
    const climb = await decisionsOf('benefits_rescore');
    const [up] = climb;
    const first = climb[climb.length - 1];
    expect(up).toMatchObject({ pool: 'benefits_rescore', queued: 5, desired: 3, applied: true });
    expect(up!.reason).toContain('5 queued / 2 per replica, within 1..3: 3');
    expect(up!.reason).toContain(`applied to hms/rescore-bot (had ${up!.current})`);
    expect(first).toMatchObject({ queued: 0, current: 5, desired: 1, applied: true });
    for (let i = 0; i < climb.length - 1; i++) {
      // Each write starts from what the previous one left, and the desired count only rises while the batch arrives.
      expect(climb[i]).toMatchObject({ applied: true, current: climb[i + 1]!.desired });
      expect(climb[i]!.desired).toBeGreaterThan(climb[i + 1]!.desired);
      expect(Date.parse(climb[i]!.at)).toBeGreaterThan(Date.parse(climb[i + 1]!.at));
    }

    const snapshot = (await manager.metrics.pools()).pools.find((pool) => pool.pool === 'benefits_rescore');
    expect(snapshot).toMatchObject({ depth: 5, desiredReplicas: 3 });
    const exported = await (await fetch(`${stack.services.ops.url}/metrics`)).text();
    expect(exported).toMatch(/^hms_desired_replicas\{[^}]*pool="benefits_rescore"[^}]*\} 3$/m);

    // The batch is worked off: back to one replica.
    const bots = new HmsClient({ baseUrl: stack.gatewayUrl, token: await stack.workerToken(['benefits_rescore'], 'rescore-bot-0') });
    let done = 0;
    await workPool({ client: bots, pool: 'benefits_rescore', worker: 'rescore-bot-0', output: () => (done++, { score: 1 }), until: () => done >= 5 });
    await waitUntil(async () => kubernetes.replicas['rescore-bot'] === 1);
    // Newest first, down from the peak; a round may have come at 3 or 4 queued (2 replicas), or with a task or two still waiting.
    const all = await decisionsOf('benefits_rescore');
    const descent = all.slice(0, all.findIndex((decision) => decision.desired === 3) + 1);
    expect(descent[0]).toMatchObject({ desired: 1, applied: true });
    expect(descent[0]!.queued).toBeLessThanOrEqual(2);
    for (let i = 0; i < descent.length - 1; i++) {
      expect(descent[i]).toMatchObject({ applied: true, current: descent[i + 1]!.desired });
      expect(descent[i]!.desired).toBeLessThan(descent[i + 1]!.desired);
    }

    // Someone scales the Deployment by hand: the policy owns it and puts it back.
    kubernetes.replicas['rescore-bot'] = 7;
    await waitUntil(async () => kubernetes.replicas['rescore-bot'] === 1);
    // An evaluation that finds the Deployment as decided logs nothing: the log holds changes, not rounds.
    const logged = (await decisionsOf('benefits_rescore')).length;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await decisionsOf('benefits_rescore')).toHaveLength(logged);
  });

  it('holds a change back during the cooldown, and records a Deployment it cannot write as not applied', async () => {
    const { manager } = env;
    await manager.pools.put('appeal_letters', {
      kind: 'bot',
      autoscale: { tasksPerReplica: 1, minReplicas: 0, maxReplicas: 4, cooldownSeconds: 3600, target: { namespace: 'hms', deployment: 'letters-bot' } },
    });
    const [missing] = await waitUntil(async () => {
      const decisions = await decisionsOf('appeal_letters');
      return decisions.length > 0 ? decisions : undefined;
    });
    expect(missing).toMatchObject({ queued: 0, current: null, desired: 0, applied: false });
    expect(missing!.reason).toContain('not applied: GET /apis/apps/v1/namespaces/hms/deployments/letters-bot/scale answered 404: deployments.apps "letters-bot" not found');

    await manager.plans.register({ id: 'appeal_letter', steps: [{ id: 'draft', pool: 'appeal_letters' }] });
    await manager.requests.create({ plan: 'appeal_letter', payload: { appeal: 1 } });
    await manager.requests.create({ plan: 'appeal_letter', payload: { appeal: 2 } });
    const held = await waitUntil(async () => (await decisionsOf('appeal_letters')).find((decision) => decision.reason.includes('cooldown')));
    expect(held).toMatchObject({ desired: 0, applied: false });
    // The round may have seen the first request's task alone; a later round wanting 2 is no new outcome (still held at 0).
    expect(held.reason).toMatch(/: [12]; held at 0 by the 3600 s cooldown until /);
    expect((await manager.metrics.pools()).pools.find((pool) => pool.pool === 'appeal_letters')).toMatchObject({ depth: 2, desiredReplicas: 0 });

    // Without a policy the pool has no desired replica count any more.
    await manager.pools.put('appeal_letters', { kind: 'bot' });
    await waitUntil(async () => (await manager.metrics.pools()).pools.find((pool) => pool.pool === 'appeal_letters')?.desiredReplicas === null);
  });

  it('streams a snapshot of each pool every second to a dashboard', async () => {
    const { manager, stack } = env;
    await manager.pools.put('passport_desk', { kind: 'human' });
    await manager.plans.register({ id: 'passport_check', steps: [{ id: 'check', pool: 'passport_desk' }] });
    await manager.requests.create({ plan: 'passport_check', payload: { applicant: 'Ada' } });
    await waitUntil(async () => (await manager.metrics.pools()).pools.find((pool) => pool.pool === 'passport_desk' && pool.depth === 1));

    const dashboard = new HmsClient({ baseUrl: stack.gatewayUrl, token: stack.serviceToken });
    const received: Array<{ at: number; event: MetricsStreamEvent }> = [];
    for await (const event of dashboard.metrics.stream({ pool: 'passport_desk' })) {
      received.push({ at: Date.now(), event });
      if (received.length === 3) break;
    }
    const snapshots = received.map(({ event }) => (event.event === 'pool' ? event.snapshot : undefined)).filter((s): s is PoolMetrics => s !== undefined);
    expect(snapshots).toHaveLength(3);
    for (const snapshot of snapshots) expect(snapshot).toMatchObject({ pool: 'passport_desk', depth: 1, leased: 0, desiredReplicas: null });
    // One per second: three snapshots span two periods (not asserted tighter: a test is no timer).
    expect(new Set(snapshots.map((snapshot) => snapshot.updatedAt)).size).toBe(3);
    expect(received[2]!.at - received[0]!.at).toBeGreaterThanOrEqual(1_000);

    // Without a pool filter, every pool with activity is in each round.
    const all: string[] = [];
    for await (const event of dashboard.metrics.stream()) {
      if (event.event === 'pool') all.push(event.snapshot.pool);
      if (all.includes('passport_desk') && all.includes('benefits_rescore')) break;
    }
    expect(all).toEqual(expect.arrayContaining(['passport_desk', 'benefits_rescore', 'appeal_letters']));
  });

  it('refuses bad policies and queries with the API error body, and workers with 403', async () => {
    const { manager, stack } = env;
    const refusal = async (call: Promise<unknown>) => {
      const error = await call.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(HmsApiError);
      return error as HmsApiError;
    };
    const inverted = await refusal(manager.pools.put('bad_bounds', { kind: 'bot', autoscale: { tasksPerReplica: 5, minReplicas: 4, maxReplicas: 2 } }));
    expect(inverted).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
    expect(inverted.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'autoscale.maxReplicas', message: 'maxReplicas must not be below minReplicas' })]));
    const badTarget = await refusal(
      manager.pools.put('bad_target', { kind: 'bot', autoscale: { tasksPerReplica: 5, minReplicas: 0, maxReplicas: 2, target: { namespace: '../kube-system', deployment: 'Web_Bot' } } }),
    );
    expect(badTarget.details.map((detail) => detail.path)).toEqual(expect.arrayContaining(['autoscale.target.namespace', 'autoscale.target.deployment']));

    expect(await refusal(manager.scaling.decisions({ limit: 0 }))).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
    expect(await refusal(manager.scaling.decisions({ cursor: 'not-a-cursor' }))).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
    const worker = new HmsClient({ baseUrl: stack.gatewayUrl, token: await stack.workerToken(['passport_desk'], 'clerk') });
    expect(await refusal(worker.scaling.decisions())).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    expect(await refusal(worker.metrics.stream().next())).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    const repeated = await fetch(`${stack.gatewayUrl}/v1/metrics/stream?pool=a&pool=b`, { headers: { authorization: `Bearer ${stack.managerToken}` } });
    expect(repeated.status).toBe(400);
    // One detail per rule the list breaks (not a string, not of a string's length), each naming `pool`.
    const repeatedBody = (await repeated.json()) as { error: { code: string; details: Array<{ path: string }> } };
    expect(repeatedBody.error.code).toBe('VALIDATION_FAILED');
    expect(repeatedBody.error.details.length).toBeGreaterThan(0);
    expect(repeatedBody.error.details.map((detail) => detail.path)).toEqual(repeatedBody.error.details.map(() => 'pool'));
    // A typo is refused, as on every other route, not streamed unfiltered.
    const typo = await fetch(`${stack.gatewayUrl}/v1/metrics/stream?pools=a`, { headers: { authorization: `Bearer ${stack.managerToken}` } });
    expect(typo.status).toBe(400);
    expect(await typo.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED', details: [{ path: 'pools' }] } });
  });
});
