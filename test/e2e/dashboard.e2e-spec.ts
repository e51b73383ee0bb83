import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { HmsClient } from '@hms/client';
import { startE2eStack, waitUntil } from './support/e2e-stack';

/** The system Chromium (DESIGN: dashboard tests drive it with playwright-core; no browser download). */
function chromiumPath(): string {
  const candidates = [process.env.HMS_CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].filter((path): path is string => Boolean(path));
  const found = candidates.find((path) => existsSync(path));
  if (!found) throw new Error(`No Chromium found (tried ${candidates.join(', ')}): install it (apt-get install chromium) or set HMS_CHROMIUM_PATH`);
  return found;
}

/**
 * A benefits-office manager opens the dashboard in a browser: the desks' queues move as the
 * clerks work, a dead voucher check waits in the alerts to be acknowledged, and a request's
 * ledger is checked from the page.
 */
describe('The manager dashboard in a browser', () => {
  let env: Awaited<ReturnType<typeof startE2eStack>>;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    env = await startE2eStack('e2e_dashboard');
    browser = await chromium.launch({ executablePath: chromiumPath(), args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
  });

  afterAll(async () => {
    await browser?.close();
    await env?.dispose();
  });

  beforeEach(async () => {
    page = await browser.newPage();
  });

  afterEach(async () => {
    await page?.close();
  });

  const poolRow = (pool: string) => page.locator(`#pools tbody tr[data-pool="${pool}"]`);

  it('follows the queues live, acknowledges an alert and verifies a request, showing user text as text', async () => {
    const { manager, stack } = env;
    await manager.pools.put('voucher_desk', { kind: 'human', maxAttempts: 1 });
    await manager.plans.register({ id: 'voucher_check', steps: [{ id: 'verify', pool: 'voucher_desk' }] });
    const requests = [];
    for (let i = 0; i < 3; i++) requests.push(await manager.requests.create({ plan: 'voucher_check', payload: { household: i } }));

    await page.goto(`${stack.gatewayUrl}/dashboard`);
    await page.locator('#token').fill(stack.managerToken);
    await page.getByRole('button', { name: 'Open the dashboard' }).click();
    await page.locator('#who-name', { hasText: 'manager@hms (manager)' }).waitFor();
    // queued 3, leased 0
    await poolRow('voucher_desk').locator('td:nth-child(2)', { hasText: /^3$/ }).waitFor();

    // A clerk takes one and gives up on it, with a message that looks like markup: the desk moves and an alert appears.
    const clerk = new HmsClient({ baseUrl: stack.gatewayUrl, token: await stack.workerToken(['voucher_desk'], 'clerk') });
    const [task] = (await clerk.tasks.lease('voucher_desk', { worker: 'clerk' })).tasks;
    await poolRow('voucher_desk').locator('td:nth-child(2)', { hasText: /^2$/ }).waitFor();
    await clerk.tasks.fail(task!.id, task!.leaseToken, { message: 'documents <img src=x onerror="document.title=\'owned\'"> illegible' }, false);
    const alertRow = page.locator('#alerts tbody tr', { hasText: 'task-dead' });
    await alertRow.waitFor({ timeout: 15_000 });
    await expect(alertRow.locator('td:nth-child(5)').textContent()).resolves.toContain('documents <img src=x onerror="document.title=\'owned\'"> illegible');
    expect(await page.locator('#alerts img').count()).toBe(0);
    expect(await page.title()).toBe('HMS dashboard');

    await alertRow.getByRole('button', { name: 'Acknowledge' }).click();
    await alertRow.locator('td:nth-child(3)', { hasText: 'acknowledged by manager@hms' }).waitFor();
    const [acknowledged] = (await manager.alerts.list({ status: 'acknowledged' })).items;
    expect(acknowledged).toMatchObject({ taskId: task!.id, acknowledgedBy: 'manager@hms' });

    // The failed voucher's request, looked up by id: its status, its step and its ledger verified.
    await page.locator('#request-id').fill(task!.requestId);
    await page.getByRole('button', { name: 'Look up' }).click();
    await page.locator('#request-status', { hasText: 'failed' }).waitFor();
    await expect(page.locator('#request-plan').textContent()).resolves.toBe('voucher_check');
    await expect(page.locator('#request-ledger').textContent()).resolves.toMatch(/^verified \(\d+ entries\)$/);
    await expect(page.locator('#request-steps tbody tr td:nth-child(2)').textContent()).resolves.toBe('failed');

    // The token lives in the tab: a reload keeps the board open, signing out clears it.
    await page.reload();
    await poolRow('voucher_desk').waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.locator('#sign-in').waitFor();
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
  });

  it('shows the API error to someone without a manager token, and serves the page with a strict policy', async () => {
    const { stack } = env;
    const response = await page.goto(`${stack.gatewayUrl}/dashboard`);
    expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
    await page.locator('#token').fill(await stack.workerToken(['voucher_desk'], 'clerk'));
    await page.getByRole('button', { name: 'Open the dashboard' }).click();
    await page.locator('#error', { hasText: /^FORBIDDEN / }).waitFor();

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.locator('#token').fill('not-a-token');
    await page.getByRole('button', { name: 'Open the dashboard' }).click();
    await page.locator('#error', { hasText: /^UNAUTHENTICATED / }).waitFor();
    await waitUntil(async () => (await page.locator('#pools tbody tr').count()) === 0);
  });
});
