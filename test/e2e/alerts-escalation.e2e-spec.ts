import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from 'pg';
import type { AlertView, LeasedTask } from '@hms/contracts';
import { HmsApiError, HmsClient } from '@hms/client';
import { startE2eStack, waitUntil } from './support/e2e-stack';

/** A pool's escalation webhook: records every delivery, answers the first `failFirst` with 503. */
async function startWebhookReceiver(failFirst: number): Promise<{ url: string; deliveries: Array<{ headers: IncomingHttpHeaders; raw: string; body: { alert: AlertView } }>; close(): Promise<void> }> {
  const deliveries: Array<{ headers: IncomingHttpHeaders; raw: string; body: { alert: AlertView } }> = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      deliveries.push({ headers: request.headers, raw, body: JSON.parse(raw) as { alert: AlertView } });
      response.statusCode = deliveries.length <= failFirst ? 503 : 204;
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hooks/hms`, deliveries, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/**
 * A caseworker gives up on a voucher: the task is dead, an alert is raised once, the desk's
 * escalation posts the on-call webhook (retried until it answers) and puts a task in front of
 * the supervisors, whose completing it resolves the alert. Late permits raise SLA alerts that a
 * manager acknowledges before they escalate, and that resolve when the permit is done.
 */
const WEBHOOK_SECRET = 'e2e-webhook-signing-secret';

describe('Alerts and escalation through the gateway', () => {
  let env: Awaited<ReturnType<typeof startE2eStack>>;

  beforeAll(async () => {
    // The receiver is a plain-http server on loopback: allowed here explicitly, refused by default.
    env = await startE2eStack('e2e_alerts', {
      OMS_SLA_SWEEP_MS: '200',
      ACT_SLA_SWEEP_MS: '200',
      OPS_ESCALATION_SWEEP_MS: '200',
      OPS_WEBHOOK_ALLOW_HTTP: '1',
      OPS_WEBHOOK_ALLOW_PRIVATE: '127.0.0.1',
      OPS_WEBHOOK_SECRET: WEBHOOK_SECRET,
    });
  });

  afterAll(async () => {
    await env?.dispose();
  });

  const workerClient = async (pools: string[], name: string) => new HmsClient({ baseUrl: env.stack.gatewayUrl, token: await env.stack.workerToken(pools, name) });

  async function leaseOne(client: HmsClient, pool: string, worker: string): Promise<LeasedTask> {
    return waitUntil(async () => (await client.tasks.lease(pool, { worker, waitSeconds: 2 })).tasks[0]);
  }

  it('escalates a dead task once: webhook delivered after a retry, a supervisor task, resolved when that is done', async () => {
    const { manager } = env;
    const hook = await startWebhookReceiver(1);
    try {
      await manager.pools.put('voucher_desk', { kind: 'human', maxAttempts: 1, escalation: { webhook: hook.url, pool: 'supervisors' } });
      await manager.plans.register({ id: 'voucher_check', steps: [{ id: 'verify', pool: 'voucher_desk' }] });
      const request = await manager.requests.create({ plan: 'voucher_check', payload: { household: 7 } });

      const clerk = await workerClient(['voucher_desk'], 'clerk');
      const task = await leaseOne(clerk, 'voucher_desk', 'clerk');
      await clerk.tasks.fail(task.id, task.leaseToken, { message: 'documents illegible' }, false);

      const delivered = await waitUntil(async () => {
        const [alert] = (await manager.alerts.list({ requestId: request.id })).items;
        return alert?.escalation?.webhook?.status === 'delivered' ? alert : undefined;
      });
      expect(delivered).toMatchObject({
        kind: 'task-dead',
        status: 'open',
        pool: 'voucher_desk',
        requestId: request.id,
        taskId: task.id,
        stepId: 'verify',
        escalationDueAt: null,
        escalation: { pool: 'supervisors', webhook: { url: hook.url, status: 'delivered', attempts: 2, lastError: null } },
      });
      expect(delivered.message).toContain('documents illegible');
      expect(hook.deliveries).toHaveLength(2);
      expect(hook.deliveries.map((d) => d.headers['hms-alert-id'])).toEqual([delivered.id, delivered.id]);
      expect(hook.deliveries[1]!.body.alert).toMatchObject({ id: delivered.id, kind: 'task-dead', taskId: task.id });
      // Signed over the timestamp and the exact body, with the key OPS holds (no secret in the URL).
      for (const { headers, raw } of hook.deliveries) {
        expect(headers['hms-signature']).toBe(`sha256=${createHmac('sha256', WEBHOOK_SECRET).update(`${String(headers['hms-timestamp'])}.${raw}`).digest('hex')}`);
      }
      expect((await manager.requests.get(request.id)).status).toBe('failed');

      // The request failed, yet its escalation task waits for the supervisors (it is not cancelled with it).
      const supervisor = await workerClient(['supervisors'], 'sam');
      const escalationTask = await leaseOne(supervisor, 'supervisors', 'sam');
      expect(escalationTask).toMatchObject({ requestId: request.id, stepId: `escalation:${delivered.id}`, payload: { alertId: delivered.id, kind: 'task-dead', taskId: task.id } });
      await supervisor.tasks.complete(escalationTask.id, escalationTask.leaseToken, { note: 'called the household' });

      const resolved = await waitUntil(async () => {
        const [alert] = (await manager.alerts.list({ requestId: request.id, status: 'resolved' })).items;
        return alert;
      });
      expect(resolved).toMatchObject({ id: delivered.id, resolvedBy: 'system:ops', resolution: 'escalation task completed by sam' });

      const view = await manager.requests.get(request.id);
      expect(view.escalations).toEqual([expect.objectContaining({ reason: 'task-dead', alertId: delivered.id })]);
      const entries = (await manager.requests.history(request.id)).items;
      const history = entries.map((entry) => entry.type);
      for (const type of ['oms.task.dead', 'ops.alert.raised', 'ops.alert.escalated', 'ops.alert.resolved']) expect(history.filter((t) => t === type)).toHaveLength(1);
      // The ledger (read by services too) records where the webhook went, not its path or query.
      expect(entries.find((entry) => entry.type === 'ops.alert.escalated')?.data).toMatchObject({ webhook: new URL(hook.url).origin });
      expect(await manager.requests.verify(request.id)).toMatchObject({ valid: true });
    } finally {
      await hook.close();
    }
  });

  it('does not escalate an acknowledged SLA alert, escalates the other after afterMinutes, and resolves both when the work is done', async () => {
    const { manager } = env;
    // Tasks breach 0.3 s after queueing; their alerts escalate 3 s after being raised unless acknowledged.
    await manager.pools.put('permit_desk', { kind: 'human', slaMinutes: 0.005, escalation: { pool: 'supervisors', afterMinutes: 0.05 } });
    await manager.plans.register({ id: 'permit', steps: [{ id: 'review', pool: 'permit_desk' }] });
    const first = await manager.requests.create({ plan: 'permit', payload: { permit: 1 } });
    const second = await manager.requests.create({ plan: 'permit', payload: { permit: 2 } });
    const alertOf = async (requestId: string) => (await manager.alerts.list({ requestId, pool: 'permit_desk' })).items[0];

    const raised = await waitUntil(async () => {
      const alerts = [await alertOf(first.id), await alertOf(second.id)];
      // Raised, and rescheduled by the escalation sweep once it read the pool's afterMinutes.
      return alerts.every((alert) => alert?.kind === 'task-sla-breached' && alert.escalationDueAt !== alert.raisedAt) ? (alerts as AlertView[]) : undefined;
    });
    for (const alert of raised) {
      expect(alert).toMatchObject({ status: 'open', escalation: null });
      expect(Date.parse(alert.escalationDueAt!) - Date.parse(alert.raisedAt)).toBe(3_000);
    }
    const acknowledged = await manager.alerts.ack(raised[0]!.id);
    expect(acknowledged).toMatchObject({ status: 'acknowledged', acknowledgedBy: 'manager@hms', escalationDueAt: null });
    await expect(manager.alerts.ack(raised[0]!.id)).resolves.toMatchObject({ status: 'acknowledged', acknowledgedAt: acknowledged.acknowledgedAt });

    const escalated = await waitUntil(async () => ((await alertOf(second.id))?.escalation ? alertOf(second.id) : undefined));
    expect(escalated).toMatchObject({ status: 'open', escalation: { pool: 'supervisors', webhook: null } });
    expect(Date.parse(escalated!.escalation!.at) - Date.parse(escalated!.raisedAt)).toBeGreaterThanOrEqual(3_000);
    expect(await alertOf(first.id)).toMatchObject({ status: 'acknowledged', escalation: null });
    const openAlerts = async () => {
      const text = await (await fetch(`${env.stack.services.ops.url}/metrics`)).text();
      const value = (status: string) => Number(new RegExp(`^hms_alerts_open\\{pool="permit_desk",kind="task-sla-breached",status="${status}"[^}]*\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
      return { open: value('open'), acknowledged: value('acknowledged') };
    };
    expect(await openAlerts()).toEqual({ open: 1, acknowledged: 1 });
    const supervisorQueue = await waitUntil(async () => {
      const { items } = await manager.tasks.list({ pool: 'supervisors', requestId: second.id });
      return items.length > 0 ? items : undefined;
    });
    expect(supervisorQueue).toEqual([expect.objectContaining({ stepId: `escalation:${escalated!.id}`, status: 'queued' })]);
    expect((await manager.tasks.list({ pool: 'supervisors', requestId: first.id })).items).toEqual([]);

    // The permits get done: both alerts resolve, and the escalation nobody needs any more is cancelled.
    const clerk = await workerClient(['permit_desk'], 'pat');
    for (let done = 0; done < 2; done += 1) {
      const task = await leaseOne(clerk, 'permit_desk', 'pat');
      await clerk.tasks.complete(task.id, task.leaseToken, { approved: true });
    }
    for (const request of [first, second]) {
      const alert = await waitUntil(async () => ((await alertOf(request.id))?.status === 'resolved' ? alertOf(request.id) : undefined));
      expect(alert).toMatchObject({ resolvedBy: 'system:ops', resolution: 'task completed by pat' });
    }
    expect(await openAlerts()).toEqual({ open: 0, acknowledged: 0 });
    const cancelled = await waitUntil(async () => {
      const [task] = (await manager.tasks.list({ pool: 'supervisors', requestId: second.id })).items;
      return task?.status === 'cancelled' ? task : undefined;
    });
    expect(cancelled.stepId).toBe(`escalation:${escalated!.id}`);

    const conflict = await manager.alerts.ack(escalated!.id).catch((error: unknown) => error);
    expect(conflict).toBeInstanceOf(HmsApiError);
    expect((conflict as HmsApiError).status).toBe(409);
    expect((conflict as HmsApiError).code).toBe('CONFLICT');
    const history = (await manager.requests.history(second.id)).items.map((entry) => entry.type);
    expect(history).toEqual(expect.arrayContaining(['oms.task.sla-breached', 'ops.alert.raised', 'ops.alert.escalated', 'ops.alert.resolved']));
  });

  it("resolves a late request's alert when the request completes; OPS never claims the request's act.request.created", async () => {
    const { manager } = env;
    await manager.plans.register({ id: 'late_filing', steps: [{ id: 'file', pool: 'filing_bots' }] });
    const request = await manager.requests.create({ plan: 'late_filing', payload: {}, slaMinutes: 0.005 });
    const alert = await waitUntil(async () => (await manager.alerts.list({ requestId: request.id, status: 'open' })).items.find((a) => a.kind === 'request-sla-breached'));
    const bot = await workerClient(['filing_bots'], 'filer-1');
    const task = await leaseOne(bot, 'filing_bots', 'filer-1');
    await bot.tasks.complete(task.id, task.leaseToken, {});
    const resolved = await waitUntil(async () => (await manager.alerts.list({ requestId: request.id, status: 'resolved' })).items.find((a) => a.id === alert.id));
    expect(resolved.resolution).toBe('request completed');

    // OPS's consumer of act.request.> acknowledges every other type unread: no claim, no transaction.
    const db = new Client({ connectionString: env.databaseUrl });
    await db.connect();
    try {
      const { rows } = await db.query<{ type: string; claimed: boolean }>(
        `SELECT l.type, EXISTS (SELECT 1 FROM ops.processed_events p WHERE p.consumer = 'ops-requests' AND p.event_id = l.event_id) AS claimed
           FROM act.ledger_entries l WHERE l.request_id = $1 AND l.type LIKE 'act.request.%' ORDER BY l.seq`,
        [request.id],
      );
      expect(rows).toEqual([
        { type: 'act.request.created', claimed: false },
        { type: 'act.request.sla-breached', claimed: true },
        { type: 'act.request.completed', claimed: true },
      ]);
    } finally {
      await db.end();
    }
  });

  it('raises a late request its own alert, which a manager resolves by hand; workers may not touch alerts', async () => {
    const { manager } = env;
    await manager.plans.register({ id: 'benefit_rescore', steps: [{ id: 'score', pool: 'scoring_bots' }] });
    const request = await manager.requests.create({ plan: 'benefit_rescore', payload: {}, slaMinutes: 0.005 });
    const alert = await waitUntil(async () => (await manager.alerts.list({ requestId: request.id, status: 'open' })).items.find((a) => a.kind === 'request-sla-breached'));
    expect(alert).toMatchObject({ pool: null, taskId: null, escalationDueAt: null, escalation: null });

    const bot = await workerClient(['scoring_bots'], 'bot-1');
    const forbidden = await bot.alerts.ack(alert.id).catch((error: unknown) => error);
    expect((forbidden as HmsApiError).status).toBe(403);

    const resolved = await manager.alerts.resolve(alert.id, 'rescore deferred to tonight');
    expect(resolved).toMatchObject({ status: 'resolved', resolvedBy: 'manager@hms', resolution: 'rescore deferred to tonight' });
    await expect(manager.alerts.resolve(alert.id)).resolves.toMatchObject({ resolvedAt: resolved.resolvedAt, resolution: 'rescore deferred to tonight' });

    const missing = await manager.alerts.ack('00000000-0000-4000-8000-000000000000').catch((error: unknown) => error);
    expect((missing as HmsApiError).status).toBe(404);
    const bad = await fetch(`${env.stack.gatewayUrl}/v1/alerts?status=closed&requestId=nope`, { headers: { authorization: `Bearer ${env.stack.managerToken}` } });
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as { error: { code: string; details: Array<{ path: string }> } };
    expect(body.error.code).toBe('VALIDATION_FAILED');
    expect(body.error.details.map((d) => d.path)).toEqual(expect.arrayContaining(['status', 'requestId']));

    // Paging walks every alert once, newest first.
    const all: AlertView[] = [];
    for await (const item of manager.alerts.listAll({ limit: 2 })) all.push(item);
    expect(new Set(all.map((a) => a.id)).size).toBe(all.length);
    expect(all.length).toBeGreaterThanOrEqual(4);
    expect(all.map((a) => a.raisedAt)).toEqual([...all.map((a) => a.raisedAt)].sort().reverse());
    const view = await manager.requests.get(request.id);
    expect(view.escalations).toEqual(expect.arrayContaining([expect.objectContaining({ reason: 'sla-breached' })]));
  });
});
