// 100 EventSources from one page to ssehubd over HTTPS in real headless
// Chromium (driven by playwright-core): every one receives a published
// event, and the DevTools protocol shows they share one h2 connection.
// Started by run_h2.sh, which sets:
//   SSEHUB_URL            the running ssehubd, e.g. https://127.0.0.1:41234/
//   SSEHUB_NODE_MODULES   where playwright-core is installed
//   SSEHUB_CHROMIUM       the browser (default /usr/bin/chromium)
// No sleeps: every wait is for a condition with a deadline.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';

const base = process.env.SSEHUB_URL;
assert.ok(base, 'SSEHUB_URL is not set: run this through tests/browser/run_h2.sh');
const modules = process.env.SSEHUB_NODE_MODULES || path.join(import.meta.dirname ?? '.', 'node_modules');
const { chromium } = createRequire(path.join(path.dirname(modules), 'noop.js'))('playwright-core');

const STREAMS = 100;
let browser;

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.SSEHUB_CHROMIUM || '/usr/bin/chromium',
    args: ['--ignore-certificate-errors', '--no-sandbox'],
  });
});

after(async () => {
  if (browser) await browser.close();
});

test(`${STREAMS} EventSources on one h2 connection each receive a published event`, async () => {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  const streams = [];  // what DevTools says about each /events response
  cdp.on('Network.responseReceived', (e) => {
    if (new URL(e.response.url).pathname === '/events')
      streams.push({ protocol: e.response.protocol, connection: e.response.connectionId });
  });

  await page.goto(new URL('/healthz', base).toString());
  await page.evaluate((n) => {
    window.opened = 0;
    window.received = 0;
    for (let i = 0; i < n; ++i) {
      const es = new EventSource(`/events?topics=h2test`);
      es.addEventListener('connected', () => { window.opened += 1; });
      es.onmessage = (m) => { if (m.data === 'over h2') window.received += 1; };
    }
  }, STREAMS);
  await page.waitForFunction((n) => window.opened === n, STREAMS, { timeout: 20000, polling: 50 });

  const res = await page.evaluate(async () => {
    const r = await fetch('/publish', { method: 'POST', body: JSON.stringify({ topics: ['h2test'], data: 'over h2' }) });
    return r.status;
  });
  assert.ok(res === 200 || res === 202, `publish answered ${res}`);
  await page.waitForFunction((n) => window.received === n, STREAMS, { timeout: 20000, polling: 50 });

  assert.equal(streams.length, STREAMS);
  assert.deepEqual([...new Set(streams.map((s) => s.protocol))], ['h2']);
  assert.equal(new Set(streams.map((s) => s.connection)).size, 1, JSON.stringify(streams.slice(0, 5)));
  await context.close();
});
