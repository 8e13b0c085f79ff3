#!/usr/bin/env bash
# @ssehub/client in real headless Chromium against a real ssehubd: packs the
# package (npm pack), installs the tarball next to React, TanStack Query and
# SWR (npm ci), bundles the page with esbuild, starts ssehubd and the page's
# server on free ports, and drives the page with playwright-core.
#   tests/client/run-browser.sh SSEHUBD [WORK_DIR]
# Installs what is missing: chromium, nodejs and npm (apt).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ssehubd=${1:?usage: run-browser.sh SSEHUBD [WORK_DIR]}
work=${2:-$(mktemp -d)}
chromium=${SSEHUB_CHROMIUM:-/usr/bin/chromium}
. "$here/common.sh"
need_node
[ -x "$chromium" ] || apt_install chromium

# The package, packed as it would be published.
pkg="$work/ssehub-client"
copy_package "$here/../../examples/web/ssehub-client" "$pkg"
npm_ci "$pkg"
rm -f "$pkg"/*.tgz
tarball="$pkg/$( (cd "$pkg" && npm pack --loglevel=warn) | tail -n 1)"

# The page: React + TanStack Query + SWR + the tarball, bundled by esbuild.
app="$work/browser"
mkdir -p "$app"
cp "$here/browser/package.json" "$here/browser/package-lock.json" "$here/browser/server.mjs" "$here/browser/client.test.mjs" "$app/"
rm -rf "$app/page" && cp -R "$here/browser/page" "$app/page"
npm_ci "$app"
rm -rf "$app/node_modules/@ssehub/client"
(cd "$app" && npm install --no-save --no-audit --no-fund --loglevel=error "$tarball")
mkdir -p "$app/public"
cp "$app/page/index.html" "$app/public/"
"$app/node_modules/.bin/esbuild" "$app/page/app.jsx" --bundle --format=esm --jsx=automatic \
  --define:process.env.NODE_ENV='"production"' --outfile="$app/public/app.js" --log-level=warning

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
# first_url LOG PID PATTERN: waits up to 10 s for the process's first line.
first_url() {
  local url=""
  for _ in $(seq 1 200); do
    url=$(sed -n "1s/$3/\\1/p" "$1")
    [ -n "$url" ] && { echo "$url"; return; }
    kill -0 "$2" 2>/dev/null || { echo "exited:" >&2; cat "$1" >&2; return 1; }
    sleep 0.05
  done
  echo "no URL printed:" >&2; cat "$1" >&2; return 1
}

# The hub: CORS for the page's origin (another port), a short flush; its demo
# page (/, /ssehub.js) is tested too.
"$ssehubd" --listen 127.0.0.1:0 --cors-origins '*' --flush-ms 200 --log-level warn > "$work/ssehubd.log" 2>&1 &
pids+=($!)
hub=$(first_url "$work/ssehubd.log" "${pids[-1]}" '^ssehubd listening on \(http:[^ ]*\)$')
node "$app/server.mjs" "$app/public" > "$work/server.log" 2>&1 &
pids+=($!)
page=$(first_url "$work/server.log" "${pids[-1]}" '^listening on \(http:[^ ]*\)$')
echo "== ssehubd at $hub, page at $page"

status=0
SSEHUB_HUB="$hub" SSEHUB_PAGE="$page" SSEHUB_NODE_MODULES="$app/node_modules" SSEHUB_CHROMIUM="$chromium" \
  node --test --test-reporter=spec "$app/client.test.mjs" || status=$?
if [ "$(wc -l < "$work/ssehubd.log")" -gt 1 ]; then
  echo "== ssehubd log"
  cat "$work/ssehubd.log"
fi
exit "$status"
