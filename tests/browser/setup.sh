# Sourced by the browser test scripts (run.sh, run_h2.sh) with $here (this
# directory), $work and $chromium set: installs what is missing (chromium,
# nodejs and npm with apt; playwright-core from npm into $work).
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

