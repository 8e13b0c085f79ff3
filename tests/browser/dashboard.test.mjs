// The kill-polling dashboard in real headless Chromium (driven by
// playwright-core). Started by run.sh, which sets:
//   SSEHUB_URL            the running ssehub_kill_polling, e.g. http://127.0.0.1:41234/
//   SSEHUB_NODE_MODULES   where playwright-core is installed
//   SSEHUB_CHROMIUM       the browser (default /usr/bin/chromium)
// No sleeps except the 5 s idle window the check asks for: everything else
// waits for a condition with a deadline (page.waitForFunction).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';

const base = process.env.SSEHUB_URL;
assert.ok(base, 'SSEHUB_URL is not set: run this through tests/browser/run.sh');
const modules = process.env.SSEHUB_NODE_MODULES || path.join(import.meta.dirname ?? '.', 'node_modules');
const { chromium } = createRequire(path.join(path.dirname(modules), 'noop.js'))('playwright-core');

const IMPORT_ROWS = 10000;

let browser;
const pages = {};  // tenant -> { page, requests: [{method, url, at}], logs: [] }

async function openTenant(tenant) {
  // One browser context per tenant: separate pages, as two users would have.
  const context = await browser.newContext();
  const page = await context.newPage();
  const entry = { page, requests: [], logs: [] };
  page.on('request', (r) => entry.requests.push({ method: r.method(), url: r.url(), type: r.resourceType(), at: Date.now() }));
  page.on('console', (m) => entry.logs.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => entry.logs.push(`pageerror: ${e.message}`));
  await page.goto(new URL(`/?tenant=${tenant}`, base).toString());
  // Connected, and the one initial load of the table done.
  await page.waitForFunction(
    () => window.dashboard && window.dashboard.connectionId && window.dashboard.ordersFetches === 1 &&
      document.getElementById('stream-status').textContent === 'open',
    null, { timeout: 10000, polling: 20 });
  pages[tenant] = entry;
  return entry;
}

const state = (tenant) => pages[tenant].page.evaluate(() => JSON.parse(JSON.stringify(window.dashboard)));
const apiOrders = (tenant) => pages[tenant].requests.filter((r) => new URL(r.url).pathname === '/api/orders' && r.method === 'GET');

async function setHidden(tenant, hidden) {
  await pages[tenant].page.evaluate((h) => {
    // What the browser does when the tab goes to the background or comes back.
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => h });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
  // The module reports it; the page shows the server's answer.
  await pages[tenant].page.waitForFunction((h) => window.dashboard.delivery === (h ? 'paused' : 'live'), hidden,
    { timeout: 5000, polling: 20 });
}

async function serverStats() {
  const res = await fetch(new URL('/api/stats', base));
  assert.equal(res.status, 200);
  return res.json();
}

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.SSEHUB_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  await openTenant('A');
  await openTenant('B');
});

after(async () => {
  for (const [tenant, { logs }] of Object.entries(pages)) {
    if (logs.length) console.log(`-- page ${tenant} console:\n${logs.join('\n')}`);
  }
  await browser?.close();
});

test('kill-polling dashboard in headless Chromium', async (t) => {
  const A = pages.A.page;
  const B = pages.B.page;

  await t.test('A creates an order: A refetches within 1 s, pushed not polled', async () => {
    const before = await state('A');
    const fetchesBefore = apiOrders('A').length;
    await A.click('#create-order');
    await A.waitForFunction((n) => document.querySelectorAll('#orders tr').length === n,
      before.orders.length + 1, { timeout: 5000, polling: 10 });
    // Measured in the page, from the click handler to the table's render:
    // POST, invalidate pushed over SSE, GET, render.
    const { createdAt, renderedAt } = await state('A');
    const elapsed = Math.round(renderedAt - createdAt);
    assert.ok(elapsed >= 0 && elapsed < 1000, `table updated ${elapsed} ms after the click`);
    const after = await state('A');
    assert.equal(after.invalidations.length, before.invalidations.length + 1);
    const inv = after.invalidations.at(-1);
    assert.deepEqual(Object.keys(inv), ['resource', 'action', 'resource_id']);
    assert.equal(inv.resource, 'orders');
    assert.equal(inv.action, 'created');
    assert.equal(inv.resource_id, String(after.orders.at(-1).id));
    // Exactly one refetch, caused by the invalidate (the POST itself does not refetch).
    assert.equal(apiOrders('A').length, fetchesBefore + 1);
    console.log(`   table updated ${elapsed} ms after the click`);
  });

  await t.test('idle for 5 s: zero requests from either page', async () => {
    const countA = pages.A.requests.length;
    const countB = pages.B.requests.length;
    const ordersA = apiOrders('A').length;
    const ordersB = apiOrders('B').length;
    await A.waitForTimeout(5000);  // the idle window itself: the one deliberate wait
    assert.equal(apiOrders('A').length, ordersA, 'A fetched /api/orders while idle');
    assert.equal(apiOrders('B').length, ordersB, 'B fetched /api/orders while idle');
    assert.deepEqual(pages.A.requests.slice(countA), [], 'A made requests while idle');
    assert.deepEqual(pages.B.requests.slice(countB), [], 'B made requests while idle');
  });

  await t.test('import: bar reaches 100 % from a small fraction of 10,000 progress calls', async () => {
    const before = await state('A');
    await A.click('#start-import');
    await A.waitForFunction((n) => window.dashboard.completes.length === n + 1, before.completes.length,
      { timeout: 30000, polling: 20 });
    // The last progress a connection gets is written before the (instant) complete.
    await A.waitForFunction(() => document.getElementById('import-progress').value === 100 &&
      document.getElementById('import-pct').textContent === '100', null, { timeout: 1000, polling: 20 });
    const after = await state('A');
    const got = (after.events.progress || 0) - (before.events.progress || 0);
    assert.equal(after.progress.pct, 100);
    assert.equal(after.progress.current, IMPORT_ROWS);
    assert.equal(after.progress.total, IMPORT_ROWS);
    assert.deepEqual(after.completes.at(-1), { resource_id: after.progress.resource_id, status: 'completed', rows: IMPORT_ROWS });
    assert.ok(await A.isVisible('#toast.show'), 'completion toast shown');
    assert.ok(got >= 1 && got <= IMPORT_ROWS / 20, `page got ${got} progress events for ${IMPORT_ROWS} calls`);
    console.log(`   ${IMPORT_ROWS} progress calls -> ${got} progress events in the page`);
  });

  await t.test('a hidden page is paused: no progress until shown, then the latest state', async () => {
    await setHidden('A', true);
    const paused = await serverStats();
    assert.equal(paused.paused_connections, 1);
    const before = await state('A');
    await A.click('#start-import');
    // complete is instant: it still arrives while paused ...
    await A.waitForFunction((n) => window.dashboard.completes.length === n + 1, before.completes.length,
      { timeout: 30000, polling: 20 });
    // ... and any progress frame not held back would have been written before it.
    const hidden = await state('A');
    assert.equal(hidden.events.progress || 0, before.events.progress || 0, 'progress delivered to a paused page');
    const importId = hidden.completes.at(-1).resource_id;
    assert.notEqual(hidden.progress.resource_id, importId, 'the bar still shows the previous import');
    assert.equal(hidden.delivery, 'paused');

    await setHidden('A', false);
    // Shown again: the held, coalesced latest value arrives, once.
    await A.waitForFunction((id) => window.dashboard.progress.resource_id === id && window.dashboard.progress.pct === 100,
      importId, { timeout: 5000, polling: 20 });
    const shown = await state('A');
    assert.equal(shown.events.progress, (before.events.progress || 0) + 1);
    assert.equal(shown.progress.current, IMPORT_ROWS);
    assert.equal((await serverStats()).paused_connections, 0);
  });

  await t.test('only the owner can pause a connection', async () => {
    const { connectionId } = await state('A');
    const post = (body) => fetch(new URL('/api/visibility', base), { method: 'POST', body: new URLSearchParams(body) });
    let res = await post({ connection_id: connectionId, owner: 'f'.repeat(32), paused: '1' });
    assert.equal(res.status, 403);
    res = await post({ connection_id: '0'.repeat(32), owner: 'f'.repeat(32), paused: '1' });
    assert.equal(res.status, 403);  // unknown ids look the same as foreign ones
    res = await post({ connection_id: connectionId, paused: '1' });
    assert.equal(res.status, 400);
    assert.equal((await serverStats()).paused_connections, 0);
  });

  await t.test('tenant B never received A\'s events; its own still arrive', async () => {
    const b = await state('B');
    const a = await state('A');
    assert.deepEqual(b.invalidations, [], `B got ${JSON.stringify(b.invalidations)}`);
    assert.equal(b.events.progress || 0, 0);
    assert.equal(b.completes.length, 0);
    assert.equal(b.ordersFetches, 1);
    assert.equal(apiOrders('B').length, 1);

    // B's own order: B refetches, A does not. Were A's events routed to B, they
    // would have come first (one connection's events keep their order).
    await B.click('#create-order');
    await B.waitForFunction(() => window.dashboard.invalidations.length === 1, null, { timeout: 1000, polling: 10 });
    await B.waitForFunction(() => document.querySelectorAll('#orders tr').length === 1, null, { timeout: 1000, polling: 10 });
    const b2 = await state('B');
    assert.equal(b2.invalidations[0].resource_id, String(b2.orders[0].id));
    assert.ok(!a.orders.some((o) => o.id === b2.orders[0].id));
    const stats = await serverStats();
    assert.equal(stats.order_reads.B, 2);
    const a2 = await state('A');
    assert.equal(a2.invalidations.length, a.invalidations.length, 'A got B\'s event');
    assert.equal(a2.ordersFetches, a.ordersFetches);
  });

  await t.test('counters on the page match what it did', async () => {
    for (const tenant of ['A', 'B']) {
      const s = await state(tenant);
      const page = pages[tenant].page;
      assert.equal(await page.textContent('#api-requests'), String(s.apiRequests));
      assert.equal(await page.textContent('#sse-events'), String(s.sseEvents));
      const apiCalls = pages[tenant].requests.filter((r) => {
        const p = new URL(r.url).pathname;
        return p.startsWith('/api/') && p !== '/api/visibility';
      }).length;
      assert.equal(s.apiRequests, apiCalls);
    }
  });
});
