// Builds the package's browser module: src/index.ts (with the adapters it
// re-exports) as one self-contained ES module, no imports, for pages that load
// it with <script type="module"> and no bundler. The demos embed it
// (examples/kill_polling, examples/ssehubd serve it at /ssehub.js).
//   node scripts/build-browser.mjs [OUT]    (npm run build:browser)
// OUT defaults to examples/web/ssehub-client.js, which is committed: the C++
// build embeds it and needs no Node. tests/client/run-unit.sh rebuilds it into
// a temporary file and fails when it differs from the committed one.
import { build } from 'esbuild';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const out = path.resolve(process.argv[2] ?? path.join(pkg, '..', 'ssehub-client.js'));

await build({
  entryPoints: [path.join(pkg, 'src', 'index.ts')],
  absWorkingDir: pkg,
  bundle: true,
  format: 'esm',
  target: 'es2020',
  platform: 'browser',
  charset: 'utf8',
  legalComments: 'none',
  banner: {
    js: '// ssehub-client.js: @ssehub/client as one ES module for <script type="module">.\n' +
      '// Generated from examples/web/ssehub-client/src by `npm run build:browser`; do not edit.',
  },
  outfile: out,
  logLevel: 'warning',
});
