#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine misses, builds ssehub and runs every
# test: the release build, then the ASan+UBSan build, then the TSan build.
#   tests/run.sh                 # everything
#   SSEHUB_SANITIZERS=0 tests/run.sh   # only the plain build (quick local loop)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=$(nproc)

packages=(g++ cmake make libasio-dev catch2 libbenchmark-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing: ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
  else
    sudo apt-get update -q && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
  fi
fi

run_suite() {  # name, extra cmake args...
  local dir="$root/build/$1"; shift
  echo "== configure $dir"
  cmake -S "$root" -B "$dir" "$@" >/dev/null
  echo "== build $dir"
  cmake --build "$dir" -j"$jobs"
  echo "== test $dir"
  ctest --test-dir "$dir" --output-on-failure -j"$jobs" --timeout 300
}

run_suite release -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "${SSEHUB_SANITIZERS:-1}" != 0 ]; then
  run_suite asan -DCMAKE_BUILD_TYPE=Debug -DSSEHUB_SANITIZE=address,undefined -DSSEHUB_BUILD_PERF=OFF -DSSEHUB_BUILD_EXAMPLES=OFF
  run_suite tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSSEHUB_SANITIZE=thread -DSSEHUB_BUILD_PERF=OFF -DSSEHUB_BUILD_EXAMPLES=OFF
fi
echo "== all tests passed"
