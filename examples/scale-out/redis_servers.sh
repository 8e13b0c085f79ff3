# Sourced by cluster_traffic.sh and cluster_bench.sh: one redis-server on
# $RP and a Redis Cluster of three masters on ${CP[@]} (CLUSTER
# ADDSLOTSRANGE + MEET, as `redis-cli --cluster create` does), files in
# $dir, processes in pids (killed and $dir removed on exit); rcpu/evals sum
# INFO cpu and the publish scripts run over the given ports.
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
redis() {  # port [cluster]
  local extra=(); [ "${2:-}" = cluster ] && extra=(--cluster-enabled yes --cluster-config-file "$dir/nodes-$1.conf")
  redis-server --port "$1" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" --logfile "$dir/redis-$1.log" "${extra[@]}" &
  pids+=($!)
  until redis-cli -p "$1" ping >/dev/null 2>&1; do sleep 0.05; done
}
redis $RP
for p in "${CP[@]}"; do redis "$p" cluster; done
redis-cli -p ${CP[0]} cluster addslotsrange 0 5460 >/dev/null
redis-cli -p ${CP[1]} cluster addslotsrange 5461 10922 >/dev/null
redis-cli -p ${CP[2]} cluster addslotsrange 10923 16383 >/dev/null
redis-cli -p ${CP[1]} cluster meet 127.0.0.1 ${CP[0]} >/dev/null
redis-cli -p ${CP[2]} cluster meet 127.0.0.1 ${CP[0]} >/dev/null
for p in "${CP[@]}"; do until redis-cli -p "$p" cluster info | grep -q cluster_state:ok; do sleep 0.1; done; done
rcpu() { for p in "$@"; do redis-cli -p "$p" info cpu; done | tr -d '\r' | awk -F: '/used_cpu_(user|sys):/{s+=$2} END{printf "%.3f", s}'; }
evals() { for p in "$@"; do redis-cli -p "$p" info commandstats; done | tr -d '\r' | awk -F'[:=,]' '/^cmdstat_eval:/{s+=$3} END{print s+0}'; }
