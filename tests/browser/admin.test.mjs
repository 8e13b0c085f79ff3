// ssehubd's /admin dashboard in real headless Chromium (driven by
// playwright-core) against a daemon holding 1,000 event streams opened by
// this test (raw sockets, tickets with a user and one of three tenants):
// the browser logs in with the admin key (HTTP Basic), the page shows what
// /stats says, updates itself over its own event stream without a single
// other request, and its Disconnect button ends that stream. Started by
// run_admin.sh, which sets:
//   SSEHUB_URL            the running ssehubd, e.g. http://127.0.0.1:41234/
//   SSEHUB_ADMIN_KEY      its --admin-key
//   SSEHUB_PUBLISHER_KEY  its --publisher-key (tickets, publishes)
//   SSEHUB_NODE_MODULES   where playwright-core is installed
//   SSEHUB_CHROMIUM       the browser (default /usr/bin/chromium)
//   SSEHUB_SCREENSHOT     optional: where to save a screenshot of the dashboard
// No sleeps: every wait is for a condition with a deadline.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';

const base = process.env.SSEHUB_URL;
const adminKey = process.env.SSEHUB_ADMIN_KEY;
const publisherKey = process.env.SSEHUB_PUBLISHER_KEY;
assert.ok(base && adminKey && publisherKey, 'SSEHUB_URL / SSEHUB_ADMIN_KEY / SSEHUB_PUBLISHER_KEY are not set: run this through tests/browser/run_admin.sh');
const modules = process.env.SSEHUB_NODE_MODULES || path.join(import.meta.dirname ?? '.', 'node_modules');
const { chromium } = createRequire(path.join(path.dirname(modules), 'noop.js'))('playwright-core');
const { hostname, port } = new URL(base);

const STREAMS = 1000;
const topicOf = (i) => (i < 500 ? 'orders' : i < 800 ? 'news' : i < 950 ? 'chat' : 'alerts');
const tenantOf = (i) => `t${i % 3}`;

async function waitFor(what, cond, ms = 20000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

async function api(pathname, init = {}, key = publisherKey) {
  const r = await fetch(new URL(pathname, base), { ...init, headers: { 'X-Publisher-Key': key, ...(init.headers || {}) } });
  return { status: r.status, body: await r.json() };
}
const stats = async () => (await api('/stats', {}, adminKey)).body;

// One event stream on a raw socket: `id` once its `connected` event arrived,
// `closed` when the daemon ended it.
function openStream(ticket) {
  const s = { id: null, closed: false, text: '' };
  s.sock = net.connect(Number(port), hostname, () => {
    s.sock.write(`GET /events?ticket=${encodeURIComponent(ticket)} HTTP/1.1\r\nHost: ${hostname}\r\nAccept: text/event-stream\r\n\r\n`);
  });
  s.sock.setEncoding('utf8');
  s.sock.on('data', (d) => {
    if (s.id) return;
    s.text += d;
    const m = /"connection_id":"([0-9a-f]+)"/.exec(s.text);
    if (m) s.id = m[1];
  });
  s.sock.on('close', () => { s.closed = true; });
  s.sock.on('error', () => { s.closed = true; });
  return s;
}

const streams = [];
let browser;
before(async () => {
  for (let i = 0; i < STREAMS; i += 50) {
    const batch = [];
    for (let j = i; j < Math.min(STREAMS, i + 50); ++j) {
      batch.push(api('/tickets', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ topics: [topicOf(j)], metadata: { sub: `user${j}`, tenant_id: tenantOf(j) } }),
      }));
    }
    for (const t of await Promise.all(batch)) {
      assert.equal(t.status, 201);
      streams.push(openStream(t.body.ticket));
    }
  }
  await waitFor('1,000 connected streams', () => streams.every((s) => s.id));
  browser = await chromium.launch({ executablePath: process.env.SSEHUB_CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
});
after(async () => {
  if (browser) await browser.close();
  for (const s of streams) s.sock.destroy();
});

test('the /admin dashboard with 1,000 connections', async (t) => {
  const context = await browser.newContext({ httpCredentials: { username: 'admin', password: adminKey }, viewport: { width: 1280, height: 1000 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));

  await t.test('without the admin key the page is refused', async () => {
    const r = await fetch(new URL('/admin', base));
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate'), /^Basic realm="ssehubd admin"/);
    const wrong = await fetch(new URL('/admin', base), { headers: { Authorization: 'Basic ' + Buffer.from('admin:wrong').toString('base64') } });
    assert.equal(wrong.status, 401);
  });

  await page.goto(new URL('/admin', base).toString());

  await t.test('the numbers match /stats', async () => {
    await page.waitForFunction((n) => window.ssehubAdmin.latest?.connections.active === n, STREAMS, { timeout: 20000 });
    const s = await stats();
    assert.equal(s.connections.active, STREAMS);
    assert.equal(await page.textContent('#active'), STREAMS.toLocaleString('en-US'));
    const rows = async (id) => page.$$eval(`#${id} tbody tr`, (trs) => trs.map((tr) => [tr.cells[0].textContent, Number(tr.cells[1].textContent.replace(/,/g, ''))]));
    assert.deepEqual(await rows('topics'), s.topics.slice(0, 20).map((x) => [x.topic, x.connections]));
    assert.deepEqual(await rows('topics'), [['orders', 500], ['news', 300], ['chat', 150], ['alerts', 50]]);
    assert.deepEqual(await rows('tenants'), s.tenants.slice(0, 20).map((x) => [x.tenant, x.connections]));
    assert.deepEqual(await rows('tenants'), [['t0', 334], ['t1', 333], ['t2', 333]]);
    assert.equal(await page.textContent('#replay'), String(s.replay.events));
  });

  await t.test('live over its own stream: a publish shows up without any other request', async () => {
    const before = requests.length;
    const delivered = (await stats()).events.delivered;
    const r = await api('/publish', { method: 'POST', body: JSON.stringify({ topics: ['orders'], type: 'x', data: '1' }) });
    assert.equal(r.status, 202);
    await page.waitForFunction((d) => window.ssehubAdmin.latest.events.delivered === d, delivered + 500, { timeout: 20000 });
    const s = await stats();
    assert.equal(await page.textContent('#delivered'), s.events.delivered.toLocaleString('en-US'));
    assert.equal(await page.textContent('#published'), s.events.published.toLocaleString('en-US'));
    // Several snapshots arrived meanwhile; the page asked for nothing.
    const seen = await page.evaluate(() => window.ssehubAdmin.snapshots);
    await page.waitForFunction((n) => window.ssehubAdmin.snapshots >= n + 3, seen, { timeout: 20000 });
    assert.deepEqual(requests.slice(before), []);
  });

  await t.test('the connection list is paged, not whole', async () => {
    await page.waitForSelector('#conn-table tbody tr');
    assert.equal(await page.$$eval('#conn-table tbody tr', (trs) => trs.length), 50);
    assert.match(await page.textContent('#conn-summary'), /^1000 in all, showing 50$/);
    await page.fill('#conn-form input[name=topic]', 'alerts');
    await page.fill('#conn-form input[name=tenant]', 't1');
    await page.click('#conn-form button[type=submit]');
    await page.waitForFunction(() => /^\d+ in all, showing \d+$/.test(document.querySelector('#conn-summary').textContent) &&
      document.querySelector('#conn-table tbody tr td:nth-child(3)')?.textContent === 't1' &&
      [...document.querySelectorAll('#conn-table tbody tr td:nth-child(4)')].every((td) => td.textContent === 'alerts'));
    const want = streams.filter((_, i) => topicOf(i) === 'alerts' && tenantOf(i) === 't1').length;
    assert.match(await page.textContent('#conn-summary'), new RegExp(`^${want} in all, showing ${want}$`));
  });

  await t.test('a Disconnect click ends that stream, and only it', async () => {
    const row = await page.$('#conn-table tbody tr');
    const id = await row.getAttribute('data-id');
    const target = streams.find((s) => s.id === id);
    assert.ok(target, 'the first row is one of this test\'s streams');
    await row.$eval('button.danger', (b) => b.click());
    await waitFor('the stream to end', () => target.closed);
    await page.waitForFunction(() => document.querySelector('#conn-table tbody tr td:last-child').textContent === 'disconnected');
    await page.waitForFunction((n) => window.ssehubAdmin.latest.connections.active === n, STREAMS - 1, { timeout: 20000 });
    assert.equal(streams.filter((s) => s.closed).length, 1);
    assert.equal((await stats()).connections.active, STREAMS - 1);
  });

  if (process.env.SSEHUB_SCREENSHOT) {  // with some traffic in the rates
    const seen = await page.evaluate(() => window.ssehubAdmin.snapshots);
    for (let i = 0; i < 40; ++i)
      await api('/publish', { method: 'POST', body: JSON.stringify({ topics: [topicOf(i * 25)], type: 'x', data: String(i) }) });
    await page.waitForFunction((n) => window.ssehubAdmin.snapshots >= n + 2, seen, { timeout: 20000 });
    await page.screenshot({ path: process.env.SSEHUB_SCREENSHOT, fullPage: true });
  }
  assert.deepEqual(errors, []);
  await context.close();
});
