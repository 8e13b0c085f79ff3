// The browser test's web server: the bundled page, and a tiny API whose
// answers say how often each path was served. The hub is ssehubd, on its
// own port (CORS). Prints "listening on http://127.0.0.1:PORT/" first.
//   node server.mjs PUBLIC_DIR
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

const dir = path.resolve(process.argv[2]);
const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };
const served = new Map();

const server = http.createServer((req, res) => {
  const { pathname } = new URL(req.url, 'http://x');
  if (pathname.startsWith('/api/')) {
    const n = (served.get(pathname) ?? 0) + 1;
    served.set(pathname, n);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
    res.end(JSON.stringify({ path: pathname, n }));
    return;
  }
  const file = pathname === '/' ? 'index.html' : pathname.slice(1);
  const full = path.join(dir, path.normalize(file));
  if (!full.startsWith(dir) || !fs.existsSync(full)) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'Content-Type': types[path.extname(full)] ?? 'application/octet-stream', 'Cache-Control': 'no-store' });
  fs.createReadStream(full).pipe(res);
});
server.listen(0, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}/`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
