#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine misses, builds ssehub and runs every
# test: the release build (unit, loopback, threads, daemon, hostile-client,
# soak, browser, consumer and perf smoke tests), then the ASan+UBSan build of
# the unit, loopback and threads suite (with the portable writer loop,
# SSEHUB_NO_ASIO_INTERNALS=ON), then the TSan build of the same suite, then
# the libFuzzer targets (clang, ASan+UBSan), each for SSEHUB_FUZZ_SECONDS
# (default 10).
#   tests/run.sh              # release + asan + tsan + fuzz (what CI runs)
#   tests/run.sh tsan         # one suite only (also: release, asan, fuzz)
#   SSEHUB_FUZZ_SECONDS=300 tests/run.sh fuzz     # a longer fuzzing campaign
#   SSEHUB_SOAK_SECONDS=600 tests/run.sh release  # a longer soak (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=$(nproc)

packages=(g++ cmake make libasio-dev catch2 libbenchmark-dev libssl-dev nlohmann-json3-dev redis-server libhiredis-dev libnats-dev nats-server pkg-config libsqlite3-dev curl)
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(release asan tsan fuzz)
case " ${suites[*]} " in *" fuzz "*) packages+=(clang libclang-rt-14-dev) ;; esac  # libFuzzer
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

step_start=$SECONDS
step() {  # prints the time the previous step took, then the next step's name
  [ -z "${step_name:-}" ] || echo "== $step_name: $((SECONDS - step_start)) s"
  step_name=$*; step_start=$SECONDS
  [ -z "$step_name" ] || echo "== $step_name"
}

# Unity (jumbo) builds: CMake compiles up to 8 of a target's .cpp files as one,
# so the Asio and coroutine templates they share are parsed, instantiated and
# optimised once instead of 8 times (docs/testing.md has the measurement).
unity=(-DCMAKE_UNITY_BUILD=ON)

run_suite() {  # name, extra cmake args...
  local dir="$root/build/$1"; shift
  step configure "$dir"
  cmake -S "$root" -B "$dir" "${unity[@]}" "$@" >/dev/null
  step build "$dir"
  cmake --build "$dir" -j"$jobs"
  step test "$dir"
  ctest --test-dir "$dir" --output-on-failure -j"$jobs" --timeout 300
  step
}

run_fuzz() {  # clang + ASan/UBSan; only the fuzz targets are built, each runs SSEHUB_FUZZ_SECONDS
  local dir="$root/build/fuzz"
  step configure "$dir"
  CC=clang CXX=clang++ cmake -S "$root" -B "$dir" "${unity[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSSEHUB_SANITIZE=address,undefined -DSSEHUB_FUZZ=ON -DSSEHUB_FUZZ_SECONDS="${SSEHUB_FUZZ_SECONDS:-10}" \
    "${sanitized[@]}" >/dev/null
  step build "$dir"
  cmake --build "$dir" -j"$jobs" --target ssehub_fuzz_targets
  step fuzz "$dir (${SSEHUB_FUZZ_SECONDS:-10} s per target)"
  ctest --test-dir "$dir" -L fuzz --output-on-failure -j"$jobs"
  step
}

sanitized=(-DSSEHUB_BUILD_PERF=OFF -DSSEHUB_BUILD_EXAMPLES=OFF -DSSEHUB_BUILD_CONSUMER_TESTS=OFF)
for suite in "${suites[@]}"; do
  case "$suite" in
    # Debug information as line tables only (-g1: file:line in every backtrace
    # and sanitizer report) and -O1 for TSan: the three builds take 18-40 %
    # less compile time than with full -g (measured per test file with
    # /usr/bin/time, docs/testing.md), which keeps CI within its budget.
    release) run_suite release -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" ;;
    asan) run_suite asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O0 -g1" \
            -DSSEHUB_SANITIZE=address,undefined -DSSEHUB_NO_ASIO_INTERNALS=ON "${sanitized[@]}" ;;
    tsan) run_suite tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
            -DSSEHUB_SANITIZE=thread "${sanitized[@]}" ;;
    fuzz) run_fuzz ;;
    *) echo "unknown suite: $suite (release, asan, tsan, fuzz)"; exit 2 ;;
  esac
done
echo "== all tests passed: ${suites[*]} ($SECONDS s)"
