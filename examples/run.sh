#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine misses, builds ssehub and starts the
# main program, the ssehubd daemon with the kill-polling demo page, on
# http://127.0.0.1:${PORT:-8080}/ (extra arguments go to ssehubd).
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(g++ cmake make libasio-dev catch2 libbenchmark-dev libssl-dev nlohmann-json3-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
  else sudo apt-get update -q && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"; fi
fi
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/release -j"$(nproc)" --target ssehubd
exec build/release/examples/ssehubd/ssehubd --listen "127.0.0.1:${PORT:-8080}" "$@"
