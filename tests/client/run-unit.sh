#!/usr/bin/env bash
# The @ssehub/client package's unit tests (vitest, fake EventSource), its
# type check, its build, `npm pack`, and that the committed browser module
# (examples/web/ssehub-client.js, embedded by the demos) matches src.
#   tests/client/run-unit.sh [WORK_DIR]
# WORK_DIR (default: a temporary directory) receives a copy of the package,
# its node_modules and the packed tarball. Installs nodejs and npm (apt) when missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pkg_src="$here/../../examples/web/ssehub-client"
work=${1:-$(mktemp -d)}
. "$here/common.sh"
need_node
pkg="$work/ssehub-client"
copy_package "$pkg_src" "$pkg"
npm_ci "$pkg"
cd "$pkg"
echo "== typecheck"
npm run --silent typecheck
echo "== vitest"
npx vitest run
echo "== browser module: examples/web/ssehub-client.js is what src builds to"
committed="$(cd "$pkg_src/.." && pwd)/ssehub-client.js"
node scripts/build-browser.mjs "$work/ssehub-client.js"
if ! cmp "$work/ssehub-client.js" "$committed"; then
  diff -u "$committed" "$work/ssehub-client.js" | head -n 40 || true
  echo "examples/web/ssehub-client.js is stale: run \`npm run build:browser\` in examples/web/ssehub-client and commit it"
  exit 1
fi
echo "== npm pack"
rm -f ./*.tgz
npm pack --loglevel=warn > pack.txt
tarball=$(tail -n 1 pack.txt)
tar -tzf "$tarball" | sort > pack-files.txt
cat pack-files.txt
for f in package/package.json package/dist/index.js package/dist/index.d.ts package/dist/react.js package/dist/react.d.ts package/dist/adapters.js; do
  grep -qx "$f" pack-files.txt || { echo "npm pack: $f missing from $tarball"; exit 1; }
done
echo "== packed $pkg/$tarball"
