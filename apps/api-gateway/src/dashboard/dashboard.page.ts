/**
 * The manager dashboard: one page, its script and its style, served by the gateway at
 * `/dashboard`. It holds no secrets and no data of its own: a manager pastes a token (kept in
 * the tab's sessionStorage) and the page calls the same `/v1` API as every other client.
 * Everything it shows from the API is set as text, never parsed as HTML: task titles and alert
 * messages are written by citizens and workers.
 */

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>HMS dashboard</title>
  <link rel="stylesheet" href="/dashboard/app.css">
  <script src="/dashboard/app.js" defer></script>
</head>
<body>
  <header>
    <h1>HMS Management Layer</h1>
    <div id="who" hidden><span id="who-name"></span> <button type="button" id="sign-out">Sign out</button></div>
  </header>
  <p id="error" role="alert" hidden></p>

  <form id="sign-in" hidden>
    <label for="token">Manager token (from <code>npm start</code>, or <code>hms token --role manager</code>)</label>
    <textarea id="token" rows="3" required spellcheck="false"></textarea>
    <button type="submit">Open the dashboard</button>
  </form>

  <main id="board" hidden>
    <section>
      <h2>Pools <small id="stream-state">connecting…</small></h2>
      <table id="pools">
        <thead><tr><th>pool</th><th>queued</th><th>leased</th><th>oldest wait</th><th>wait p50 / p95</th><th>done / min</th><th>success</th><th>workers</th><th>desired replicas</th></tr></thead>
        <tbody></tbody>
      </table>
    </section>

    <section>
      <h2>Alerts</h2>
      <table id="alerts">
        <thead><tr><th>raised</th><th>kind</th><th>status</th><th>pool</th><th>message</th><th>escalation</th><th></th></tr></thead>
        <tbody></tbody>
      </table>
      <p id="alerts-empty" hidden>No open or acknowledged alerts.</p>
    </section>

    <section>
      <h2>Scaling decisions</h2>
      <table id="scaling">
        <thead><tr><th>at</th><th>pool</th><th>queued</th><th>current</th><th>desired</th><th>applied</th><th>reason</th></tr></thead>
        <tbody></tbody>
      </table>
      <p id="scaling-empty" hidden>No pool has autoscaling decisions yet.</p>
    </section>

    <section>
      <h2>Request</h2>
      <form id="lookup">
        <label for="request-id">Request id</label>
        <input id="request-id" required spellcheck="false" autocomplete="off">
        <button type="submit">Look up</button>
      </form>
      <div id="request" hidden>
        <p><strong id="request-plan"></strong> — <span id="request-status"></span>, ledger <span id="request-ledger"></span></p>
        <table id="request-steps">
          <thead><tr><th>step</th><th>status</th><th>pool</th></tr></thead>
          <tbody></tbody>
        </table>
      </div>
    </section>
  </main>
</body>
</html>
`;

export const DASHBOARD_CSS = `
:root { font-family: system-ui, sans-serif; color: #1b1f24; background: #f6f7f9; }
body { margin: 0 auto; max-width: 1200px; padding: 1rem 1.5rem; }
header { display: flex; justify-content: space-between; align-items: baseline; }
h1 { font-size: 1.3rem; }
h2 { font-size: 1.05rem; margin-top: 1.8rem; }
h2 small { font-weight: normal; color: #5b6470; margin-left: .5rem; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #e2e5e9; font-size: .9rem; vertical-align: top; }
th { background: #eef0f3; font-weight: 600; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
#error { background: #fde8e8; color: #8a1c1c; padding: .6rem .8rem; border-radius: 4px; }
form#sign-in { display: grid; gap: .5rem; max-width: 40rem; }
textarea, input { font-family: ui-monospace, monospace; font-size: .85rem; padding: .4rem; }
button { cursor: pointer; padding: .3rem .7rem; }
tr.open td:nth-child(3) { color: #8a1c1c; font-weight: 600; }
`;

export const DASHBOARD_SCRIPT = `'use strict';
(() => {
  const TOKEN_KEY = 'hms.dashboard.token';
  const REFRESH_MS = 5000;
  const $ = (id) => document.getElementById(id);
  let streamAbort = null;
  let refreshTimer = null;

  const token = () => sessionStorage.getItem(TOKEN_KEY);

  class ApiError extends Error {
    constructor(status, body) {
      const error = (body && body.error) || { code: status === 0 ? 'UNAVAILABLE' : 'ERROR', message: 'HTTP ' + status };
      super(error.message);
      this.status = status;
      this.code = error.code;
    }
  }

  async function api(method, path, body) {
    const headers = { authorization: 'Bearer ' + token(), accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response;
    try {
      response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (cause) {
      throw new ApiError(0, { error: { code: 'UNAVAILABLE', message: 'The gateway did not answer' } });
    }
    const text = await response.text();
    let parsed;
    try { parsed = text ? JSON.parse(text) : undefined; } catch { parsed = undefined; }
    if (!response.ok) throw new ApiError(response.status, parsed);
    return parsed;
  }

  function showError(error) {
    $('error').textContent = error ? (error.code ? error.code + ' ' : '') + error.message : '';
    $('error').hidden = !error;
  }

  /** A table cell with text content (never HTML). */
  function cell(row, text, className) {
    const td = row.insertCell();
    td.textContent = text === null || text === undefined ? '—' : String(text);
    if (className) td.className = className;
    return td;
  }

  const seconds = (value) => (value === null || value === undefined ? null : value < 90 ? value.toFixed(1) + ' s' : value < 5400 ? (value / 60).toFixed(1) + ' min' : (value / 3600).toFixed(1) + ' h');
  const percent = (value) => (value === null || value === undefined ? null : Math.round(value * 100) + ' %');
  const time = (iso) => (iso ? new Date(iso).toLocaleString() : null);

  function claimsOf(jwt) {
    try {
      const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      return JSON.parse(atob(part));
    } catch {
      return null;
    }
  }

  // Pools: one row per pool, updated in place from the Server-Sent Events stream.
  function showPool(snapshot) {
    const body = $('pools').tBodies[0];
    let row = [...body.rows].find((r) => r.dataset.pool === snapshot.pool);
    if (!row) {
      row = document.createElement('tr');
      row.dataset.pool = snapshot.pool;
      const after = [...body.rows].find((r) => r.dataset.pool > snapshot.pool);
      body.insertBefore(row, after || null);
    }
    row.replaceChildren();
    cell(row, snapshot.pool);
    cell(row, snapshot.depth, 'number');
    cell(row, snapshot.leased, 'number');
    cell(row, seconds(snapshot.oldestWaitSeconds), 'number');
    cell(row, snapshot.waitP50Seconds === null ? null : seconds(snapshot.waitP50Seconds) + ' / ' + seconds(snapshot.waitP95Seconds), 'number');
    cell(row, snapshot.throughputPerMinute, 'number');
    cell(row, percent(snapshot.successRate), 'number');
    cell(row, snapshot.workersOnline, 'number');
    cell(row, snapshot.desiredReplicas, 'number');
  }

  async function followStream() {
    streamAbort = new AbortController();
    const signal = streamAbort.signal;
    while (!signal.aborted) {
      try {
        const response = await fetch('/v1/metrics/stream', { headers: { authorization: 'Bearer ' + token(), accept: 'text/event-stream' }, signal });
        if (!response.ok) {
          const text = await response.text();
          let parsed;
          try { parsed = JSON.parse(text); } catch { parsed = undefined; }
          throw new ApiError(response.status, parsed);
        }
        $('stream-state').textContent = 'live';
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffered = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffered += value.replace(/\\r\\n?/g, '\\n');
          let end;
          while ((end = buffered.indexOf('\\n\\n')) >= 0) {
            const block = buffered.slice(0, end);
            buffered = buffered.slice(end + 2);
            let event = 'message';
            const data = [];
            for (const line of block.split('\\n')) {
              if (line.startsWith('event:')) event = line.slice(6).trim();
              else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
            }
            if (data.length === 0) continue;
            const payload = JSON.parse(data.join('\\n'));
            if (event === 'pool') {
              showPool(payload);
              $('stream-state').textContent = 'live, ' + new Date(payload.updatedAt).toLocaleTimeString();
            } else if (event === 'error') {
              $('stream-state').textContent = 'OPS not answering: ' + payload.error.message;
            }
          }
        }
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
          showError(error);
          return;
        }
        $('stream-state').textContent = 'reconnecting…';
      }
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }

  function alertButton(row, label, action, id) {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = label;
    button.dataset.action = action;
    button.addEventListener('click', async () => {
      button.disabled = true;
      try {
        await api('POST', '/v1/alerts/' + encodeURIComponent(id) + '/' + action, {});
        showError(null);
        await refresh();
      } catch (error) {
        showError(error);
        button.disabled = false;
      }
    });
    row.cells[row.cells.length - 1].append(button, ' ');
  }

  async function refreshAlerts() {
    const [open, acknowledged] = await Promise.all([api('GET', '/v1/alerts?status=open&limit=100'), api('GET', '/v1/alerts?status=acknowledged&limit=100')]);
    const alerts = [...open.items, ...acknowledged.items].sort((a, b) => (a.raisedAt < b.raisedAt ? 1 : -1));
    const body = $('alerts').tBodies[0];
    body.replaceChildren();
    for (const alert of alerts) {
      const row = body.insertRow();
      row.dataset.alert = alert.id;
      row.className = alert.status;
      cell(row, time(alert.raisedAt));
      cell(row, alert.kind);
      cell(row, alert.status + (alert.acknowledgedBy ? ' by ' + alert.acknowledgedBy : ''));
      cell(row, alert.pool);
      cell(row, alert.message);
      cell(row, alert.escalation ? 'escalated ' + time(alert.escalation.at) + (alert.escalation.pool ? ' to ' + alert.escalation.pool : '') : alert.escalationDueAt ? 'due ' + time(alert.escalationDueAt) : null);
      row.insertCell();
      if (alert.status === 'open') alertButton(row, 'Acknowledge', 'ack', alert.id);
      alertButton(row, 'Resolve', 'resolve', alert.id);
    }
    $('alerts-empty').hidden = alerts.length > 0;
  }

  async function refreshScaling() {
    const { items } = await api('GET', '/v1/scaling/decisions?limit=15');
    const body = $('scaling').tBodies[0];
    body.replaceChildren();
    for (const decision of items) {
      const row = body.insertRow();
      cell(row, time(decision.at));
      cell(row, decision.pool);
      cell(row, decision.queued, 'number');
      cell(row, decision.current, 'number');
      cell(row, decision.desired, 'number');
      cell(row, decision.applied ? 'yes' : 'no');
      cell(row, decision.reason);
    }
    $('scaling-empty').hidden = items.length > 0;
  }

  async function refresh() {
    try {
      await Promise.all([refreshAlerts(), refreshScaling()]);
    } catch (error) {
      showError(error);
    }
  }

  async function lookUp(id) {
    try {
      const [request, verdict] = await Promise.all([
        api('GET', '/v1/requests/' + encodeURIComponent(id)),
        api('GET', '/v1/requests/' + encodeURIComponent(id) + '/history/verify'),
      ]);
      $('request-plan').textContent = request.plan + (request.reference ? ' ' + request.reference : '');
      $('request-status').textContent = request.status;
      $('request-ledger').textContent = verdict.valid
        ? 'verified (' + verdict.entries + ' entries)'
        : 'INVALID at entry ' + (verdict.brokenAt ? verdict.brokenAt.seq + ': ' + verdict.brokenAt.reason : '?');
      const body = $('request-steps').tBodies[0];
      body.replaceChildren();
      for (const step of request.steps || []) {
        const row = body.insertRow();
        cell(row, step.stepId);
        cell(row, step.status);
        cell(row, step.pool);
      }
      $('request').hidden = false;
      showError(null);
    } catch (error) {
      $('request').hidden = true;
      showError(error);
    }
  }

  function open() {
    const claims = claimsOf(token());
    $('who-name').textContent = claims ? claims.sub + ' (' + (claims.roles || []).join(', ') + ')' : '';
    $('sign-in').hidden = true;
    $('who').hidden = false;
    $('board').hidden = false;
    followStream();
    refresh();
    refreshTimer = setInterval(refresh, REFRESH_MS);
  }

  function close() {
    sessionStorage.removeItem(TOKEN_KEY);
    if (streamAbort) streamAbort.abort();
    clearInterval(refreshTimer);
    $('pools').tBodies[0].replaceChildren();
    $('board').hidden = true;
    $('who').hidden = true;
    $('sign-in').hidden = false;
  }

  $('sign-in').addEventListener('submit', (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
    $('token').value = '';
    showError(null);
    open();
  });
  $('sign-out').addEventListener('click', () => {
    showError(null);
    close();
  });
  $('lookup').addEventListener('submit', (event) => {
    event.preventDefault();
    lookUp($('request-id').value.trim());
  });

  if (token()) open();
  else $('sign-in').hidden = false;
})();
`;
