#!/usr/bin/env bash
# Two ssehubd nodes on one Redis behind nginx, without containers:
#   redis-server on 127.0.0.1:$REDIS_PORT (6390), nodes A and B on $NODE_A_PORT
#   (8081) and $NODE_B_PORT (8082), nginx on $PORT (8080) balancing between them.
#   examples/scale-out/run.sh            # Ctrl-C stops everything
# Then:
#   curl -N 'http://127.0.0.1:8080/events?topics=orders'                 # lands on A or B
#   curl -XPOST -d '{"topics":["orders"],"data":1}' http://127.0.0.1:8081/publish   # via A
#   curl -N -H 'Last-Event-ID: <id>' 'http://127.0.0.1:8082/events?topics=orders'  # replay on B
# Installs redis-server and nginx-light with apt-get when missing (as root or
# through sudo), otherwise says what to install. Builds ssehubd into
# build/release when it is not there. Extra arguments go to both nodes.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
PORT=${PORT:-8080}
NODE_A_PORT=${NODE_A_PORT:-8081}
NODE_B_PORT=${NODE_B_PORT:-8082}
REDIS_PORT=${REDIS_PORT:-6390}

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
dpkg-query -W -f='${Status}' libhiredis-dev 2>/dev/null | grep -q "install ok installed" || need+=(libhiredis-dev pkg-config)
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing: ${need[*]}"
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
  elif command -v sudo >/dev/null; then
    sudo apt-get update -q && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
  else
    echo "missing: ${need[*]} (Debian: apt-get install ${need[*]})" >&2
    exit 1
  fi
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

ssehubd=${SSEHUBD:-"$root/build/release/examples/ssehubd/ssehubd"}  # SSEHUBD=path: use another build
if [ ! -x "$ssehubd" ] || ! "$ssehubd" --help | grep -q -- '--redis'; then
  echo "== building ssehubd (build/release)"
  cmake -S "$root" -B "$root/build/release" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSSEHUB_WITH_REDIS=ON >/dev/null
  cmake --build "$root/build/release" -j"$(nproc)" --target ssehubd
fi

run=$(mktemp -d /tmp/ssehub-scale-out.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$run"
}
trap cleanup EXIT INT TERM

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$run" \
  --logfile "$run/redis.log" &
pids+=($!)

for node in A:$NODE_A_PORT B:$NODE_B_PORT; do
  "$ssehubd" --listen "127.0.0.1:${node#*:}" --redis "redis://127.0.0.1:$REDIS_PORT" --node-id "${node%%:*}" \
    --redis-ready "$@" >"$run/node-${node%%:*}.out" 2>"$run/node-${node%%:*}.log" &
  pids+=($!)
done

mkdir -p "$run/nginx"
cat >"$run/nginx/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $run/nginx/nginx.pid;
error_log $run/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $run/nginx/body;
  proxy_temp_path $run/nginx/proxy;
  fastcgi_temp_path $run/nginx/fastcgi;
  uwsgi_temp_path $run/nginx/uwsgi;
  scgi_temp_path $run/nginx/scgi;
  upstream ssehub {
    server 127.0.0.1:$NODE_A_PORT max_fails=1 fail_timeout=5s;
    server 127.0.0.1:$NODE_B_PORT max_fails=1 fail_timeout=5s;
  }
  server {
    listen 127.0.0.1:$PORT;
    location / {
      proxy_pass http://ssehub;
      proxy_http_version 1.1;        # keep the event stream a plain HTTP/1.1 response
      proxy_set_header Connection "";
      proxy_buffering off;           # ssehubd also sends X-Accel-Buffering: no
      proxy_read_timeout 1h;         # heartbeats keep it alive anyway
      proxy_next_upstream error timeout http_503;  # a draining node answers 503
    }
  }
}
CONF
"$NGINX" -p "$run/nginx" -c "$run/nginx/nginx.conf" &
pids+=($!)

echo "== redis 127.0.0.1:$REDIS_PORT, node A :$NODE_A_PORT, node B :$NODE_B_PORT, nginx http://127.0.0.1:$PORT/ (logs: $run)"
echo "== Ctrl-C stops everything"
wait
