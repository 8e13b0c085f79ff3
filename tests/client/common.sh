# Shared by run-unit.sh and run-browser.sh: install what a fresh Debian
# machine misses (apt), and copy the client package into a work directory
# where `npm ci` runs (node_modules never lands in the source tree).
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
apt_install() {
  echo "== installing: $*"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
}
need_node() {
  local missing=()
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
}
# npm_ci DIR: `npm ci` in DIR unless its package-lock.json is the one last installed there.
npm_ci() {
  local dir=$1 stamp="$1/node_modules/.ssehub-lock"
  if [ -f "$stamp" ] && cmp -s "$dir/package-lock.json" "$stamp"; then
    echo "== npm: $dir up to date"
    return
  fi
  echo "== npm ci in $dir"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$dir/package-lock.json" "$stamp"
}
# copy_package SRC DEST: the package's sources (not node_modules, dist or tarballs).
copy_package() {
  local src=$1 dest=$2
  mkdir -p "$dest"
  rm -rf "$dest/src" "$dest/test" "$dest/scripts" "$dest/dist"
  for f in package.json package-lock.json tsconfig.json tsconfig.build.json vitest.config.ts README.md src test scripts; do
    [ -e "$src/$f" ] && cp -R "$src/$f" "$dest/"
  done
  return 0
}
