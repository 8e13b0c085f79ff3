# Sourced by the browser test scripts (run.sh, run_h2.sh, run_mercure.sh) with $here (this
# directory), $work and $chromium set: installs what is missing (chromium,
# nodejs and npm with apt; playwright-core from npm into $work), and
# start_server and wait_for_url, which the scripts use to run their server.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
apt_install() {
  echo "== installing: $*"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
}

missing=()
[ -x "$chromium" ] || missing+=(chromium)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"

version=$(node -p "require('$here/package.json').devDependencies['playwright-core']")
installed=$(node -p "try { require('$work/node_modules/playwright-core/package.json').version } catch { '' }")
if [ "$installed" != "$version" ]; then
  echo "== npm: playwright-core@$version into $work"
  npm install --prefix "$work" --no-audit --no-fund --no-save --loglevel=error "playwright-core@$version"
fi


# start_server OUT ERR COMMAND...: starts COMMAND in the background (stdout
# to OUT, stderr to ERR, which may be the same file), sets $pid, and stops and
# reaps it when the script exits.
start_server() {
  local out=$1 err=$2
  shift 2
  : > "$out"
  if [ "$out" = "$err" ]; then "$@" > "$out" 2>&1 & else "$@" > "$out" 2> "$err" & fi
  pid=$!
  trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
}

# wait_for_url FILE SED_EXPR: sets $url from the server's first line in FILE
# (SED_EXPR prints it), waiting up to 10 s; exits when the server ($pid)
# ended or printed none.
wait_for_url() {
  url=""
  for _ in $(seq 1 200); do
    url=$(sed -n "$2" "$1")
    [ -n "$url" ] && break
    kill -0 "$pid" 2>/dev/null || { echo "server exited:"; cat "$1"; exit 1; }
    sleep 0.05
  done
  [ -n "$url" ] || { echo "server printed no URL:"; cat "$1"; exit 1; }
  echo "== server at $url"
}
