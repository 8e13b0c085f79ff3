#!/usr/bin/env bash
# 100 EventSources over HTTPS + HTTP/2 in real headless Chromium (h2.test.mjs).
#   tests/browser/run_h2.sh SSEHUBD_BINARY [WORK_DIR]
# Makes a throwaway self-signed certificate, starts ssehubd with it on port 0
# and runs the test. WORK_DIR (default: a temporary directory) receives
# node_modules/playwright-core, the certificate and the daemon's log.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ssehubd=${1:?usage: run_h2.sh SSEHUBD_BINARY [WORK_DIR]}
work=${2:-$(mktemp -d)}
mkdir -p "$work"
chromium=${SSEHUB_CHROMIUM:-/usr/bin/chromium}
. "$here/setup.sh"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/key.pem" \
  -out "$work/cert.pem" -days 2 -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
log="$work/ssehubd.log"
out="$work/ssehubd.out"
# 100 event streams and the page's fetches on one connection: room for more than 100.
start_server "$out" "$log" "$ssehubd" --listen 127.0.0.1:0 --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" \
  --h2-max-streams 200 --log-level warn

wait_for_url "$out" '1s/^ssehubd listening on \(https:[^ ]*\)$/\1/p'

status=0
SSEHUB_URL="$url/" SSEHUB_NODE_MODULES="$work/node_modules" SSEHUB_CHROMIUM="$chromium" \
  node --test --test-reporter=spec "$here/h2.test.mjs" || status=$?
[ ! -s "$log" ] || { echo "== ssehubd log"; cat "$log"; }
exit "$status"
