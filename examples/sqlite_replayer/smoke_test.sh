#!/usr/bin/env bash
# Runs the example server the way a user would: start it on a fresh file, read
# two ticks, stop it (SIGTERM), start it again on the same file, reconnect with
# the first tick's id: the second tick, stored before the restart, comes back
# first. Every wait has a deadline.
#   smoke_test.sh PATH/TO/ssehub_sqlite_replayer
set -euo pipefail
bin=$1
dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

start() {  # starts the server on port 0; sets pid and port
  coproc SERVER { exec "$bin" --db "$dir/ticks.db" --port 0; }
  pid=$SERVER_PID
  local line
  IFS= read -r -t 20 line <&"${SERVER[0]}" || { echo "no start line"; exit 1; }
  port=$(sed -E 's|.*:([0-9]+)/.*|\1|' <<<"$line")
}

stop() {
  kill -TERM "$pid"
  wait "$pid" || { echo "exit status $? after SIGTERM"; exit 1; }
  pid=
}

# Prints "id data" of each of the first N tick events the stream sends
# (deadline: 20 s).
ticks() {
  local n=$1 extra=$2 id= line got=0
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  printf 'GET /events?topics=ticks HTTP/1.1\r\nHost: x\r\n%s\r\n' "$extra" >&3
  local deadline=$((SECONDS + 20))
  while ((SECONDS < deadline)) && IFS= read -r -t 20 line <&3; do
    line=${line%$'\r'}
    case $line in
      "id: "*) id=${line#id: } ;;
      "event: tick") want=1 ;;
      "data: "*)
        if [ "${want:-0}" = 1 ]; then
          echo "$id ${line#data: }"
          got=$((got + 1))
          if ((got == n)); then exec 3<&-; return 0; fi
        fi ;;
      "") want=0 ;;
    esac
  done
  exec 3<&-
  echo "no tick"; return 1
}

start
# Two ticks: the second is stored before the server stops.
{ read -r id1 n1; read -r id2 n2; } < <(ticks 2 "")
stop
start
read -r id3 n3 < <(ticks 1 "Last-Event-ID: $id1"$'\r\n')
stop
echo "before the restart: tick $n1 ($id1), tick $n2 ($id2); first after reconnecting: tick $n3 ($id3)"
[ "$id3" = "$id2" ] && [ "$n3" = "$n2" ] || { echo "expected the tick stored before the restart"; exit 1; }
