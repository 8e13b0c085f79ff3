#!/usr/bin/env bash
# Runs the dashboard test in real headless Chromium.
#   tests/browser/run.sh SERVER_BINARY [WORK_DIR]
# SERVER_BINARY: the built ssehub_kill_polling. WORK_DIR (default: a temporary
# directory) receives node_modules/playwright-core and the server's log.
# Installs what is missing: chromium, nodejs and npm (apt), playwright-core (npm).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
server=${1:?usage: run.sh SERVER_BINARY [WORK_DIR]}
work=${2:-$(mktemp -d)}
mkdir -p "$work"
chromium=${SSEHUB_CHROMIUM:-/usr/bin/chromium}

. "$here/setup.sh"  # chromium, node, npm, playwright-core into $work

log="$work/server.log"
# Short flush so the test is quick; 10,000 progress calls spread over 2 s.
start_server "$log" "$log" "$server" --host 127.0.0.1 --port 0 --flush-ms 200 --import-rows 10000 --import-ms 2000

wait_for_url "$log" '1s/^listening on \(http:[^ ]*\)$/\1/p'

status=0
SSEHUB_URL="$url" SSEHUB_NODE_MODULES="$work/node_modules" SSEHUB_CHROMIUM="$chromium" \
  node --test --test-reporter=spec "$here/dashboard.test.mjs" || status=$?
if [ -s "$log" ] && [ "$(wc -l < "$log")" -gt 1 ]; then
  echo "== server log"
  cat "$log"
fi
exit "$status"
