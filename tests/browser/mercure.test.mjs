// ssehubd --mercure in real headless Chromium (driven by playwright-core):
// the page's EventSource carries no header, only the mercureAuthorization
// cookie, as the Mercure clients do. With the cookie the page receives a
// private update its token's subscribe grant matches (a URI template), and
// not one outside the grant; without it (no --mercure-anonymous) the
// EventSource is refused. Started by run_mercure.sh, which sets:
//   SSEHUB_URL            the running ssehubd, e.g. http://127.0.0.1:41234/
//   SSEHUB_MERCURE_KEY    the HS256 key it was given (--mercure-jwt-key)
//   SSEHUB_NODE_MODULES   where playwright-core is installed
//   SSEHUB_CHROMIUM       the browser (default /usr/bin/chromium)
// No sleeps: every wait is for a condition with a deadline.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';

const base = process.env.SSEHUB_URL;
const key = process.env.SSEHUB_MERCURE_KEY;
assert.ok(base && key, 'SSEHUB_URL / SSEHUB_MERCURE_KEY are not set: run this through tests/browser/run_mercure.sh');
const modules = process.env.SSEHUB_NODE_MODULES || path.join(import.meta.dirname ?? '.', 'node_modules');
const { chromium } = createRequire(path.join(path.dirname(modules), 'noop.js'))('playwright-core');

const b64url = (s) => Buffer.from(s).toString('base64url');
function hs256(claims) {
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' })) + '.' + b64url(JSON.stringify(claims));
  return head + '.' + createHmac('sha256', key).update(head).digest('base64url');
}
const hub = new URL('/.well-known/mercure', base).toString();
const template = 'https://example.com/books/{id}';

async function publish(topic, data, isPrivate) {
  const body = new URLSearchParams({ topic, data });
  if (isPrivate) body.set('private', 'on');
  const r = await fetch(hub, {
    method: 'POST',
    headers: { Authorization: `Bearer ${hs256({ mercure: { publish: ['*'] } })}` },
    body,
  });
  assert.equal(r.status, 200, await r.text());
}

let browser;
before(async () => {
  browser = await chromium.launch({ executablePath: process.env.SSEHUB_CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
});
after(async () => {
  if (browser) await browser.close();
});

test('an EventSource authenticated by the mercureAuthorization cookie gets the private updates its grant matches', async () => {
  const context = await browser.newContext();
  await context.addCookies([{ name: 'mercureAuthorization', value: hs256({ mercure: { subscribe: [template] } }), url: base }]);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(new URL('/healthz', base).toString());
  await page.evaluate((url) => {
    window.got = [];
    window.open_ = false;
    const es = new EventSource(url);
    es.addEventListener('connected', () => { window.open_ = true; });
    es.onmessage = (m) => window.got.push(m.data);
  }, `${hub}?topic=${encodeURIComponent(template)}&topic=${encodeURIComponent('https://example.com/authors/{id}')}`);
  await page.waitForFunction(() => window.open_, null, { timeout: 20000, polling: 50 });

  await publish('https://example.com/authors/7', 'outside the grant', true);  // private, not granted
  await publish('https://example.com/books/1', 'private book', true);        // private, granted by the template
  await page.waitForFunction(() => window.got.length >= 1, null, { timeout: 20000, polling: 50 });
  await publish('https://example.com/books/2', 'public book', false);
  await page.waitForFunction(() => window.got.length >= 2, null, { timeout: 20000, polling: 50 });
  assert.deepEqual(await page.evaluate(() => window.got), ['private book', 'public book']);
  assert.deepEqual(errors, []);
  await context.close();
});

test('without the cookie (no --mercure-anonymous) the EventSource is refused', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(new URL('/healthz', base).toString());
  const state = await page.evaluate((url) => new Promise((resolve) => {
    const es = new EventSource(url);
    es.onerror = () => { resolve(es.readyState); es.close(); };
    es.addEventListener('connected', () => resolve('connected'));
  }), `${hub}?topic=${encodeURIComponent(template)}`);
  assert.equal(state, 2);  // EventSource.CLOSED: a 401 is not retried
  await context.close();
});
