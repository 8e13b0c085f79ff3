#!/usr/bin/env bash
# The load tests of the README's "Load tests" section, in one command:
# builds ssehubd and ssehub_bench (Release) if needed, then for each scenario
# starts a fresh ssehubd pinned to one core, runs ssehub_bench pinned to
# another, stops the server; prints the summary tables at the end and keeps
# every measurement as JSON lines.
#
#   perf/run_bench.sh                # all scenarios
#   perf/run_bench.sh idle fanout1k  # some of: idle, fanout1k, fanout10k, topics, p99
#   perf/run_bench.sh p99 p99 p99    # 10k subscribers x 10 msg/s only, three fresh servers
#   TARGET=nchan perf/run_bench.sh   # the same against Nchan (nginx-light +
#                                    # libnginx-mod-nchan, perf/nchan/nginx.conf.in)
#
# Environment: BUILD_DIR (default build/bench), OUT (JSON lines, default
# $BUILD_DIR/bench-results[-nchan].jsonl, replaced), DURATION (seconds per
# rate, 10), SERVER_CPU (0), BENCH_CPU (1), NICE (-20 when allowed: both
# processes get their cores ahead of other work on a shared machine; "" for
# none), SSEHUBD_ARGS (extra ssehubd flags), BENCH_ARGS (extra ssehub_bench flags),
# SSEHUBD (the ssehubd binary, default $BUILD_DIR/examples/ssehubd/ssehubd).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build/bench}
TARGET=${TARGET:-ssehubd}
case "$TARGET" in
  ssehubd) OUT=${OUT:-$BUILD_DIR/bench-results.jsonl} ;;
  nchan)   OUT=${OUT:-$BUILD_DIR/bench-results-nchan.jsonl} ;;
  *) echo "run_bench.sh: TARGET is ssehubd or nchan" >&2; exit 2 ;;
esac
DURATION=${DURATION:-10}
SERVER_CPU=${SERVER_CPU:-0}
BENCH_CPU=${BENCH_CPU:-1}
SSEHUBD_ARGS=${SSEHUBD_ARGS:-}
BENCH_ARGS=${BENCH_ARGS:-}
SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -eq 0 ] && SCENARIOS=(idle fanout1k fanout10k topics)

command -v taskset >/dev/null || { echo "run_bench.sh: taskset (util-linux) is required" >&2; exit 1; }
# On a machine shared with other work, give the server and the load generator
# their cores first. Linux's autogroup scheduling shares CPU between sessions
# whatever a process's nice value, so the run gets a session of its own whose
# autogroup is reniced (needs root or CAP_SYS_NICE; silently skipped otherwise).
NICE=${NICE--20}
if [ -n "$NICE" ] && [ -z "${RUN_BENCH_SESSION:-}" ] && command -v setsid >/dev/null; then
  RUN_BENCH_SESSION=1 exec setsid -w "$0" "$@"
fi
PRIO=()
PRIO_NOTE="default priority"
if [ -n "$NICE" ] && nice -n "$NICE" true 2>/dev/null; then
  PRIO=(nice -n "$NICE")
  PRIO_NOTE="nice $NICE"
  if [ -e /proc/self/autogroup ] && echo "$NICE" 2>/dev/null > "/proc/$$/autogroup"; then PRIO_NOTE="$PRIO_NOTE, autogroup nice $NICE"; fi
fi
if [ "$TARGET" = nchan ] && [ ! -f /usr/lib/nginx/modules/ngx_nchan_module.so ]; then
  echo "run_bench.sh: Nchan is not installed (Debian: apt-get install nginx-light libnginx-mod-nchan)" >&2; exit 1
fi

if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DSSEHUB_BUILD_TESTS=OFF \
        -DSSEHUB_BUILD_EXAMPLES=ON -DSSEHUB_BUILD_PERF=ON >/dev/null
fi
cmake --build "$BUILD_DIR" -j"$(nproc)" --target ssehubd ssehub_bench >/dev/null
SSEHUBD=${SSEHUBD:-$BUILD_DIR/examples/ssehubd/ssehubd}
BENCH=$BUILD_DIR/perf/loadgen/ssehub_bench

# Both processes hold 10k+ sockets.
ulimit -n "$(ulimit -Hn)"

if [ "$TARGET" = nchan ]; then
  LABEL="nchan $(dpkg-query -W -f='${Version}' libnginx-mod-nchan 2>/dev/null || echo unknown), $(date -u +%Y-%m-%dT%H:%MZ)"
else
  rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
  if [ -n "$(git -C "$ROOT" status --porcelain -- src include examples coro 2>/dev/null)" ]; then rev="$rev+changes"; fi
  if [ "$SSEHUBD" != "$BUILD_DIR/examples/ssehubd/ssehubd" ]; then rev="$SSEHUBD"; fi
  LABEL="ssehub $rev, $(date -u +%Y-%m-%dT%H:%MZ)"
fi
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "server: $TARGET ($LABEL) on CPU $SERVER_CPU; load generator on CPU $BENCH_CPU; $PRIO_NOTE"
mkdir -p "$(dirname "$OUT")"
: > "$OUT"

WORK=$(mktemp -d)
SERVER_PID=
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
  fi
}
trap 'stop_server; rm -rf "$WORK"' EXIT

free_port() {  # a port nothing listens on (nginx has no port 0)
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 10000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
  return 1
}

start_nchan() {
  PORT=$(free_port)
  mkdir -p "$WORK/nginx"
  sed -e "s|@PORT@|$PORT|g" -e "s|@PREFIX@|$WORK/nginx|g" "$ROOT/perf/nchan/nginx.conf.in" > "$WORK/nginx/nginx.conf"
  "${PRIO[@]}" taskset -c "$SERVER_CPU" nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e stderr \
    >"$WORK/server.out" 2>"$WORK/server.err" &
  SERVER_PID=$!
  for _ in $(seq 1 200); do  # up to 10 s until it accepts connections
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "run_bench.sh: nginx did not start:" >&2
  cat "$WORK/server.err" >&2
  exit 1
}

start_server() {
  if [ "$TARGET" = nchan ]; then start_nchan; return; fi
  : > "$WORK/server.out"
  "${PRIO[@]}" taskset -c "$SERVER_CPU" "$SSEHUBD" --listen 127.0.0.1:0 --no-demo --log-level warn \
    --max-connections 20000 --drain-timeout-ms 1000 $SSEHUBD_ARGS >"$WORK/server.out" 2>"$WORK/server.err" &
  SERVER_PID=$!
  PORT=
  for _ in $(seq 1 200); do  # up to 10 s for the "listening" line
    PORT=$(sed -n 's/^ssehubd listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/server.out")
    [ -n "$PORT" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.05
  done
  if [ -z "$PORT" ]; then
    echo "run_bench.sh: ssehubd did not start:" >&2
    cat "$WORK/server.err" >&2
    exit 1
  fi
}

bench() {
  start_server
  local target=(--server "http://127.0.0.1:$PORT")
  if [ "$TARGET" = nchan ]; then
    target=(--sub-url "http://127.0.0.1:$PORT/sub/{topic}" --pub-url "http://127.0.0.1:$PORT/pub/{topic}" --pub-body '{payload}')
  fi
  "${PRIO[@]}" taskset -c "$BENCH_CPU" "$BENCH" "${target[@]}" --server-pid "$SERVER_PID" \
    --duration "$DURATION" --json "$OUT" --label "$LABEL" $BENCH_ARGS "$@"
  stop_server
}

for s in "${SCENARIOS[@]}"; do
  case "$s" in
    idle)      bench --scenario idle --subs 1000
               bench --scenario idle --subs 10000 ;;
    fanout1k)  bench --scenario fanout --subs 1000 --rates 100,300,1000,max ;;
    fanout10k) bench --scenario fanout --subs 10000 --rates 10,30,100,max ;;
    topics)    bench --scenario topics --subs 10000 --topics 1000 --rates 3000 ;;
    p99)       bench --scenario fanout --subs 10000 --rates 10 ;;
    *) echo "run_bench.sh: unknown scenario $s (idle, fanout1k, fanout10k, topics, p99)" >&2; exit 2 ;;
  esac
done

echo
echo "== Summary: $TARGET ($LABEL; JSON lines in $OUT) =="
"$BENCH" --table "$OUT"
