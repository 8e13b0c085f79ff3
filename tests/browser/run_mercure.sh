#!/usr/bin/env bash
# Mercure in real headless Chromium (mercure.test.mjs): an EventSource that
# authenticates with the mercureAuthorization cookie, as Mercure's clients do.
#   tests/browser/run_mercure.sh SSEHUBD_BINARY [WORK_DIR]
# Starts ssehubd --mercure on port 0 with a throwaway key and runs the test.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ssehubd=${1:?usage: run_mercure.sh SSEHUBD_BINARY [WORK_DIR]}
work=${2:-$(mktemp -d)}
mkdir -p "$work"
chromium=${SSEHUB_CHROMIUM:-/usr/bin/chromium}
. "$here/setup.sh"

key="browser-test-mercure-key-$(date +%s%N)"
log="$work/ssehubd-mercure.log"
out="$work/ssehubd-mercure.out"
start_server "$out" "$log" "$ssehubd" --listen 127.0.0.1:0 --mercure --mercure-jwt-key "$key" --log-level warn

wait_for_url "$out" '1s/^ssehubd listening on \(http:[^ ]*\)$/\1/p'

status=0
SSEHUB_URL="$url/" SSEHUB_MERCURE_KEY="$key" SSEHUB_NODE_MODULES="$work/node_modules" SSEHUB_CHROMIUM="$chromium" \
  node --test --test-reporter=spec "$here/mercure.test.mjs" || status=$?
[ ! -s "$log" ] || { echo "== ssehubd log"; cat "$log"; }
exit "$status"
