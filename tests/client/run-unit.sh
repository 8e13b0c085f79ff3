#!/usr/bin/env bash
# The @ssehub/client package's unit tests (vitest, fake EventSource), its
# type check, its build and `npm pack`.
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
