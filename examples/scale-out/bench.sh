#!/usr/bin/env bash
# What one Redis carries: two ssehubd nodes on one redis-server, node A takes
# the publishes, node B serves SUBS subscribers on one topic; ssehub_bench
# (perf/loadgen) drives it at each of RATES and reports deliveries/s; Redis's
# CPU comes from INFO cpu (used_cpu_user + used_cpu_sys) and commandstats.
#   BUILD=build/release SUBS=1000 DUR=8 RATES="300 1000 max" examples/scale-out/bench.sh
# Needs ssehubd (with --redis) and ssehub_bench built in $BUILD, redis-server, redis-cli, curl.
set -euo pipefail
cd "$(dirname "$0")/../.."
B=$(cd "${BUILD:-build/release}" && pwd)
dir=$(mktemp -d /tmp/ssehub-scale-out-bench.XXXXXX)
RP=${RP:-16401}; AP=${AP:-18201}; BP=${BP:-18202}
SUBS=${SUBS:-1000}; DUR=${DUR:-8}; RATES=${RATES:-"300 1000 max"}
redis-server --port $RP --bind 127.0.0.1 --save '' --appendonly no --dir $dir --logfile $dir/redis.log &
RPID=$!
until redis-cli -p $RP ping >/dev/null 2>&1; do sleep 0.1; done
$B/examples/ssehubd/ssehubd --listen 127.0.0.1:$AP --redis redis://127.0.0.1:$RP --node-id A --no-demo --log-level warn --redis-ready >$dir/a.out 2>$dir/a.log &
APID=$!
$B/examples/ssehubd/ssehubd --listen 127.0.0.1:$BP --redis redis://127.0.0.1:$RP --node-id B --no-demo --log-level warn --redis-ready >$dir/b.out 2>$dir/b.log &
BPID=$!
trap 'kill $APID $BPID $RPID 2>/dev/null; wait 2>/dev/null' EXIT
until curl -sf http://127.0.0.1:$AP/readyz >/dev/null && curl -sf http://127.0.0.1:$BP/readyz >/dev/null; do sleep 0.1; done
rcpu() { redis-cli -p $RP info cpu | awk -F: '/used_cpu_(user|sys):/{s+=$2} END{printf "%.3f", s}'; }
pub() { redis-cli -p $RP info commandstats | tr -d '\r' | awk -F'[:=,]' '/^cmdstat_eval:/{print $3}'; }
for rate in $RATES; do
  c0=$(rcpu); p0=$(pub); p0=${p0:-0}; t0=$(date +%s.%N)
  $B/perf/loadgen/ssehub_bench --server http://127.0.0.1:$BP --pub-url "http://127.0.0.1:$AP/publish" \
    --scenario custom --subs $SUBS --topics 1 --rates $rate --duration $DUR --settle 1 --server-pid $BPID \
    --json $dir/bench-$rate.json --label "rate=$rate" > $dir/bench-$rate.txt 2>&1 || true
  c1=$(rcpu); p1=$(pub); t1=$(date +%s.%N)
  cat $dir/bench-$rate.txt | tail -8
  awk -v c0=$c0 -v c1=$c1 -v p0=$p0 -v p1=$p1 -v t0=$t0 -v t1=$t1 -v r=$rate 'BEGIN{printf "rate=%s redis_cpu_s=%.2f over %.1f s wall, publishes=%d, redis CPU per publish=%.1f us\n", r, c1-c0, t1-t0, p1-p0, (p1>p0)?(c1-c0)*1e6/(p1-p0):0}'
done
curl -s http://127.0.0.1:$AP/metrics > $dir/a.metrics; curl -s http://127.0.0.1:$BP/metrics > $dir/b.metrics
redis-cli -p $RP info commandstats | grep -E 'eval|publish|xadd|xrange|subscribe' || true
echo "results in $dir"
