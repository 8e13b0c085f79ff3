#!/usr/bin/env bash
# The /admin dashboard in real headless Chromium (admin.test.mjs) against
# ssehubd holding 1,000 event streams.
#   tests/browser/run_admin.sh SSEHUBD_BINARY [WORK_DIR]
# Starts ssehubd on port 0 (tickets, a publisher key, an admin key) and runs
# the test; SSEHUB_SCREENSHOT=FILE keeps a screenshot of the dashboard.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ssehubd=${1:?usage: run_admin.sh SSEHUBD_BINARY [WORK_DIR]}
work=${2:-$(mktemp -d)}
mkdir -p "$work"
chromium=${SSEHUB_CHROMIUM:-/usr/bin/chromium}
. "$here/setup.sh"

ulimit -n 4096 2>/dev/null || true  # 1,000 streams on each side
admin_key="admin-$(date +%s%N)"
publisher_key="pub-$(date +%s%N)"
log="$work/ssehubd-admin.log"
out="$work/ssehubd-admin.out"
start_server "$out" "$log" "$ssehubd" --listen 127.0.0.1:0 --auth tickets --publisher-key "$publisher_key" \
  --admin-key "$admin_key" --admin-feed-interval-ms 250 --threads 2 --log-level warn

wait_for_url "$out" '1s/^ssehubd listening on \(http:[^ ]*\)$/\1/p'

status=0
SSEHUB_URL="$url/" SSEHUB_ADMIN_KEY="$admin_key" SSEHUB_PUBLISHER_KEY="$publisher_key" \
  SSEHUB_NODE_MODULES="$work/node_modules" SSEHUB_CHROMIUM="$chromium" \
  node --test --test-reporter=spec "$here/admin.test.mjs" || status=$?
[ ! -s "$log" ] || { echo "== ssehubd log"; cat "$log"; }
exit "$status"
