// @ssehub/client in real headless Chromium (playwright-core): a React page
// with TanStack Query and SWR, bundled by esbuild, against a real ssehubd.
// Started by run-browser.sh, which sets:
//   SSEHUB_HUB           ssehubd, e.g. http://127.0.0.1:41234
//   SSEHUB_PAGE          the page's server, e.g. http://127.0.0.1:41235/
//   SSEHUB_NODE_MODULES  where playwright-core is installed
//   SSEHUB_CHROMIUM      the browser (default /usr/bin/chromium)
// Then ssehubd's demo page (GET /), on the package's browser module.
// Waits are for conditions with deadlines, except two short
// quiet windows that prove nothing more was fetched.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';

const hubBase = process.env.SSEHUB_HUB;
const pageBase = process.env.SSEHUB_PAGE;
assert.ok(hubBase && pageBase, 'SSEHUB_HUB / SSEHUB_PAGE not set: run this through tests/client/run-browser.sh');
const modules = process.env.SSEHUB_NODE_MODULES;
const { chromium } = createRequire(path.join(path.dirname(modules), 'noop.js'))('playwright-core');

const QUIET_MS = 400;  // > two flushes of the hub (--flush-ms 200)
const ALL = ['/api/orders', '/api/orders/7', '/api/orders/8', '/api/users', '/api/users/1', '/api/users/2'];

let browser;
let page;
const requests = [];  // API paths the page fetched, in order
const logs = [];

const apiSince = (mark) => requests.slice(mark).sort();
const text = (sel) => page.textContent(sel);

async function publish(route, body) {
  const res = await fetch(new URL(route, hubBase), { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const answer = await res.text();
  assert.equal(res.status, 202, `${route}: ${res.status} ${answer}`);
  return JSON.parse(answer);
}
async function hubStats() {
  const res = await fetch(new URL('/stats', hubBase));
  assert.equal(res.status, 200);
  return res.json();
}
async function setHidden(hidden) {
  await page.evaluate((h) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => h });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}
// Waits until every listed element shows n.
async function waitShown(ids, n) {
  await page.waitForFunction(([list, want]) => list.every((id) => document.getElementById(id)?.textContent === want),
    [ids, String(n)], { timeout: 5000, polling: 20 });
}

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.SSEHUB_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage();
  page.on('request', (r) => {
    const p = new URL(r.url()).pathname;
    if (p.startsWith('/api/')) requests.push(p);
  });
  page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  await page.goto(`${pageBase}?hub=${encodeURIComponent(hubBase)}`);
  await page.waitForFunction(() => window.hub && window.hub.connectionId && document.getElementById('status').textContent === 'open',
    null, { timeout: 10000, polling: 20 });
  await waitShown(['orders', 'order-7', 'order-8', 'users', 'user-1', 'user-2'], 1);
});

after(async () => {
  if (logs.length) console.log(`-- page console:\n${logs.join('\n')}`);
  await browser?.close();
});

test('@ssehub/client with React, TanStack Query and SWR in headless Chromium', async (t) => {
  await t.test('three components on overlapping topics open one stream', async () => {
    const streams = await page.evaluate(() => window.streams);
    assert.equal(streams.length, 1, `streams: ${streams.join(' ')}`);
    const url = new URL(streams[0]);
    assert.equal(url.origin + url.pathname, new URL('/events', hubBase).toString());
    assert.equal(url.searchParams.get('topics'), 'import,orders,users');
    assert.match(url.searchParams.get('owner'), /^[0-9a-f]{32}$/);
    const stats = await hubStats();
    assert.equal(stats.connections.active, 1);
    assert.deepEqual(apiSince(0), ALL, 'each query fetched once on load');
  });

  await t.test('an invalidate refetches exactly the matching queries', async () => {
    let mark = requests.length;
    await publish('/publish/invalidate', { resource: 'orders', action: 'updated', resource_id: '7' });
    await waitShown(['orders', 'order-7'], 2);
    await page.waitForTimeout(QUIET_MS);
    assert.deepEqual(apiSince(mark), ['/api/orders', '/api/orders/7'], 'TanStack: the list and item 7, not item 8, no SWR key');
    assert.equal(await text('#order-8'), '1');

    mark = requests.length;
    await publish('/publish/invalidate', { resource: 'users', action: 'updated', resource_id: '2' });
    await waitShown(['users', 'user-2'], 2);
    await page.waitForTimeout(QUIET_MS);
    assert.deepEqual(apiSince(mark), ['/api/users', '/api/users/2'], 'SWR: the list and user 2 only');
    assert.equal(await text('#user-1'), '1');
  });

  await t.test('a hidden tab is paused and gets the latest progress on return', async () => {
    const mark = requests.length;
    await publish('/publish/progress', { resource: 'import', resource_id: 'imp_1', current: 1, total: 10 });
    await page.waitForFunction(() => document.getElementById('pct').textContent === '10', null, { timeout: 5000, polling: 20 });
    const before = await page.evaluate(() => window.hub.eventCounts.progress);
    assert.equal(before, 1);

    await setHidden(true);
    await page.waitForFunction(() => window.hub.paused === true, null, { timeout: 5000, polling: 20 });
    assert.equal((await hubStats()).connections.paused, 1);
    for (let i = 2; i <= 10; i++) await publish('/publish/progress', { resource: 'import', resource_id: 'imp_1', current: i, total: 10 });
    await page.waitForTimeout(QUIET_MS);
    assert.equal(await page.evaluate(() => window.hub.eventCounts.progress), 1, 'progress reached a paused tab');
    assert.equal(await text('#pct'), '10');

    await setHidden(false);
    await page.waitForFunction(() => document.getElementById('pct').textContent === '100', null, { timeout: 5000, polling: 20 });
    assert.equal(await page.evaluate(() => window.hub.eventCounts.progress), 2, 'one coalesced frame: the latest value');
    assert.equal(await page.evaluate(() => window.hub.paused), false);
    assert.equal((await hubStats()).connections.paused, 0);
    const p = await page.evaluate(() => window.progress);
    assert.deepEqual([p.current, p.total, p.pct, p.status], [10, 10, 100, 'running']);

    await publish('/publish/complete', { resource: 'import', resource_id: 'imp_1', success: true });
    await page.waitForFunction(() => window.progress?.status === 'completed' && document.getElementById('completes').textContent === '1',
      null, { timeout: 5000, polling: 20 });
    assert.deepEqual(apiSince(mark), [], 'hiding and showing the tab fetched nothing');
  });

  await t.test('a resync refetches everything shown, once each', async () => {
    const mark = requests.length;
    const before = Object.fromEntries(await Promise.all(
      ['orders', 'order-7', 'order-8', 'users', 'user-1', 'user-2'].map(async (id) => [id, Number(await text(`#${id}`))])));
    await publish('/publish', { topics: ['orders'], type: 'resync', data: { reason: 'test' } });
    for (const [id, n] of Object.entries(before)) await waitShown([id], n + 1);
    await page.waitForTimeout(QUIET_MS);
    assert.deepEqual(apiSince(mark), ALL);
    assert.equal((await hubStats()).connections.active, 1);
    assert.equal((await page.evaluate(() => window.streams)).length, 1, 'still one stream');
  });

  await t.test('no errors in the page', () => {
    assert.deepEqual(logs.filter((l) => /^(error|pageerror)/.test(l)), []);
  });
});

// ssehubd's own demo page (GET /), built on the package's browser module
// (GET /ssehub.js, examples/web/ssehub-client.js): no bundler, no React.
test('ssehubd\'s demo page runs on @ssehub/client', async (t) => {
  const demo = await browser.newPage();
  const streams = [];
  const demoLogs = [];
  demo.on('request', (r) => { if (new URL(r.url()).pathname === '/events') streams.push(r.url()); });
  demo.on('console', (m) => demoLogs.push(`${m.type()}: ${m.text()}`));
  demo.on('pageerror', (e) => demoLogs.push(`pageerror: ${e.message}`));
  const shows = (id, want) => demo.waitForFunction(([i, w]) => document.getElementById(i).textContent === w, [id, want],
    { timeout: 5000, polling: 20 });
  try {
    await demo.goto(new URL('/', hubBase).toString());
    await shows('status', 'open');
    await demo.waitForFunction(() => document.getElementById('conn').textContent.startsWith('connection '), null,
      { timeout: 5000, polling: 20 });

    await t.test('one stream with the topics of the form and an owner', () => {
      assert.equal(streams.length, 1, streams.join(' '));
      const url = new URL(streams[0]);
      assert.equal(url.searchParams.get('topics'), 'dashboard,import,orders');
      assert.match(url.searchParams.get('owner'), /^[0-9a-f]{32}$/);
    });

    await t.test('the buttons publish; an invalidate of its topic counts as a refetch', async () => {
      await demo.click('button[data-route="/publish/invalidate"]');
      await shows('refetches', '1');
      await demo.click('button[data-route="/publish"]');
      await demo.waitForFunction(() => [...document.querySelectorAll('#log .type')].some((e) => e.textContent === 'message'),
        null, { timeout: 5000, polling: 20 });
      await demo.click('#import');
      await shows('pct', 'completed');
      assert.ok(await demo.evaluate(() => document.getElementById('bar').value) > 0);
    });

    await t.test('"pretend this tab is hidden" pauses the connection until unchecked', async () => {
      await demo.check('#hidden');
      await shows('delivery', 'paused');
      assert.equal((await hubStats()).connections.paused, 1);
      await demo.uncheck('#hidden');
      await shows('delivery', 'live');
      assert.equal((await hubStats()).connections.paused, 0);
    });

    await t.test('disconnect ends the stream', async () => {
      await demo.click('#disconnect');
      await shows('status', 'idle');
      assert.equal(streams.length, 1);
    });

    await t.test('no errors in the demo page', () => {
      assert.deepEqual(demoLogs.filter((l) => /^(error|pageerror)/.test(l)), []);
    });
  } finally {
    await demo.close();
  }
});
