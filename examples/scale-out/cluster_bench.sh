#!/usr/bin/env bash
# Deliveries/s and Redis CPU per publish for 1, 2 and 3 nodes, broadcast
# (--redis, one Redis) against interest routing (--redis-cluster, a 3-master
# cluster). Node i serves SUBS subscribers of its own topic n<i>-0 and takes
# that topic's publishes (one ssehub_bench per node, all at once, at RATE
# events/s each), so with interest routing a node reads only its own stream
# and with broadcast every node reads every node's stream.
#   BUILD=build/rel SUBS=200 RATE=300 DUR=5 examples/scale-out/cluster_bench.sh
# Needs ssehubd and ssehub_bench built in $BUILD, redis-server, redis-cli, curl, python3.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=$(cd "${BUILD:-build/release}" && pwd)
SUBS=${SUBS:-200}; RATE=${RATE:-300}; DUR=${DUR:-5}
dir=$(mktemp -d /tmp/ssehub-cluster-bench.XXXXXX)
RP=16601; CP=(16611 16612 16613)
source examples/scale-out/redis_servers.sh

run() {  # label nodes flag value redis-ports...
  local label=$1 n=$2 flag=$3 value=$4; shift 4
  local np=() bp=()
  for ((i = 0; i < n; i++)); do
    "$BUILD/examples/ssehubd/ssehubd" --listen 127.0.0.1:$((18401 + i)) "$flag" "$value" --redis-prefix "$label$n" \
      --node-id N$i --no-demo --log-level warn --redis-ready >/dev/null 2>"$dir/$label$n-$i.log" &
    np+=($!); pids+=($!)
  done
  for ((i = 0; i < n; i++)); do until curl -sf http://127.0.0.1:$((18401 + i))/readyz >/dev/null; do sleep 0.1; done; done
  local c0 e0; c0=$(rcpu "$@"); e0=$(evals "$@")
  for ((i = 0; i < n; i++)); do
    "$BUILD/perf/loadgen/ssehub_bench" --server http://127.0.0.1:$((18401 + i)) --scenario custom --subs "$SUBS" --topics 1 \
      --topic-prefix "n$i-" --rates "$RATE" --duration "$DUR" --settle 1 --server-pid "${np[$i]}" \
      --json "$dir/$label$n-$i.json" >/dev/null 2>&1 &
    bp+=($!)
  done
  for p in "${bp[@]}"; do wait "$p" || true; done
  local c1 e1; c1=$(rcpu "$@"); e1=$(evals "$@")
  python3 - "$label" "$n" "$(echo "$c1 - $c0" | bc)" $((e1 - e0)) "$dir/$label$n-"*.json <<'PY'
import json, sys
label, n, cpu, evals = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
d = lost = 0; srv = []
for f in sys.argv[5:]:
    for line in open(f):
        j = json.loads(line)
        if j.get("type") == "result":
            d += j.get("deliveries_per_s", 0); lost += j.get("lost", 0); srv.append(j.get("server_cpu_pct", 0))
print(f"{label:9} nodes={n}: deliveries/s {d:,.0f} (lost {lost}), node CPU % {[round(x) for x in srv]}, "
      f"Redis CPU {cpu:.2f} s / {evals} publishes = {cpu * 1e6 / evals if evals else 0:.0f} us per publish")
PY
  for p in "${np[@]}"; do kill "$p"; done
  for p in "${np[@]}"; do wait "$p" 2>/dev/null || true; done
}
for n in 1 2 3; do
  run broadcast $n --redis redis://127.0.0.1:$RP $RP
  run cluster $n --redis-cluster "127.0.0.1:${CP[0]}" "${CP[@]}"
done
