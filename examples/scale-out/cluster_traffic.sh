#!/usr/bin/env bash
# Per-node inbound traffic, interest routing (--redis-cluster, a 3-master
# Redis Cluster) against broadcast (--redis, one Redis), at 1,000 topics:
# node A takes the publishes (BATCHES × one POST of 1,000 events, one per
# topic t.0 … t.999), node B has one client on t.500, node C one on t.*
# (a wildcard: with interest routing C takes the {PREFIX}:all channel).
# Reports per node the messages its subscriber read from Redis (and, on the
# cluster, their payload bytes; a broadcast node reads what the cluster's
# wildcard node C reads), and Redis CPU per publish (INFO cpu of every
# Redis process ÷ publish scripts run).
#   BUILD=build/rel BATCHES=20 examples/scale-out/cluster_traffic.sh
# Needs ssehubd built in $BUILD with ssehub::redis, redis-server, redis-cli, curl.
set -euo pipefail
cd "$(dirname "$0")/../.."
B=$(cd "${BUILD:-build/release}" && pwd)/examples/ssehubd/ssehubd
BATCHES=${BATCHES:-20}
dir=$(mktemp -d /tmp/ssehub-cluster-traffic.XXXXXX)
RP=16501; CP=(16511 16512 16513)
source examples/scale-out/redis_servers.sh
metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v m="$2" 'index($0, m) == 1 {print $2; exit}'; }
batch=$(python3 -c 'import json; print(json.dumps([{"topics": ["t.%d" % i], "data": "event %d of 1000" % i} for i in range(1000)]))')

run() {  # label, engine flag, engine value, redis ports to account
  local label=$1 flag=$2 value=$3; shift 3
  local ports=(18301 18302 18303) names=(A B C) np=()
  for i in 0 1 2; do
    "$B" --listen 127.0.0.1:${ports[$i]} "$flag" "$value" --redis-prefix "$label" --node-id ${names[$i]} --no-demo \
      --log-level warn --redis-ready >"$dir/$label-${names[$i]}.out" 2>"$dir/$label-${names[$i]}.log" &
    np+=($!); pids+=($!)
  done
  for p in "${ports[@]}"; do until curl -sf "http://127.0.0.1:$p/readyz" >/dev/null; do sleep 0.1; done; done
  curl -sN "http://127.0.0.1:18302/events?topics=t.500" >"$dir/$label-b.sse" & pids+=($!)
  curl -sN "http://127.0.0.1:18303/events?topics=t.*" >"$dir/$label-c.sse" & pids+=($!)
  until grep -q connected "$dir/$label-b.sse" 2>/dev/null && grep -q connected "$dir/$label-c.sse" 2>/dev/null; do sleep 0.1; done
  sleep 0.5  # the cluster subscriptions follow the clients
  local c0 e0 t0 t1
  c0=$(rcpu "$@"); e0=$(evals "$@"); t0=$(date +%s.%N)
  for ((k = 0; k < BATCHES; k++)); do
    curl -sf -XPOST --data-binary "$batch" http://127.0.0.1:18301/publish >/dev/null
  done
  curl -sf -XPOST -d '{"topics":["t.500"],"data":"end"}' http://127.0.0.1:18301/publish >/dev/null
  until grep -q '^data: end' "$dir/$label-b.sse"; do sleep 0.05; done
  until [ "$(grep -c '^data: ' "$dir/$label-c.sse")" -ge $((BATCHES * 1000 + 1)) ]; do sleep 0.05; done
  t1=$(date +%s.%N)
  local c1 e1
  c1=$(rcpu "$@"); e1=$(evals "$@")
  for i in 0 1 2; do
    echo "$label node ${names[$i]}: messages from Redis $(metric ${ports[$i]} "ssehubd_fanout_messages_total{node=\"${names[$i]}\",result=\"received\"}")," \
      "payload bytes $(metric ${ports[$i]} "ssehubd_redis_cluster_bytes_total{node=\"${names[$i]}\"}")"
  done
  awk -v c=$(echo "$c1 - $c0" | bc) -v e=$((e1 - e0)) -v t=$(echo "$t1 - $t0" | bc) -v l="$label" \
    'BEGIN{printf "%s: %d publishes in %.2f s, Redis CPU %.2f s = %.1f us per publish\n", l, e, t, c, e ? c * 1e6 / e : 0}'
  for p in "${np[@]}"; do kill "$p"; done
}
run broadcast --redis redis://127.0.0.1:$RP $RP
run cluster --redis-cluster "127.0.0.1:${CP[0]},127.0.0.1:${CP[1]}" "${CP[@]}"
