#!/usr/bin/env bash
# Builds the OCI image of `kaas serve` without a container daemon, reproducibly: the same sources,
# base and lock file give the same manifest digest, byte for byte.
#
#   deploy/image/build.sh [OUT]    OUT: the OCI image layout to write (default dist/image)
#
# Two layers:
#   1. base: Debian 13 (trixie, whose Node.js is 20.19, as package.json's engines asks; bookworm's is
#      18) with nodejs and ca-certificates only, made by mmdebstrap from Debian's mirror and a user
#      kaas (10001:10001). Cached in $KAAS_IMAGE_CACHE (default /var/cache/kaas-image) by its recipe,
#      since the mirror moves on: delete the cache to take Debian's updates.
#   2. app: /app with the compiled server and CLI (dist/cli), bin/, the built panel (web/dist) and
#      the production dependencies only (`npm ci --omit=dev`, cached by package-lock.json).
# Every file belongs to root and is read-only for the user the image runs as, and every timestamp is
# SOURCE_DATE_EPOCH (default: the last commit's time).
# Prints the image reference and its manifest digest on stdout; progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=${1:-$ROOT/dist/image}
CACHE=${KAAS_IMAGE_CACHE:-/var/cache/kaas-image}
SUITE=trixie
MIRROR=http://deb.debian.org/debian
PACKAGES=nodejs,ca-certificates
VERSION=$(node -p 'require("./package.json").version')
REPOSITORY=localhost/kaas
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}

log() { echo "image: $*" >&2; }

need() {
  local missing=()
  for tool in "$@"; do command -v "${tool%%:*}" > /dev/null || missing+=("${tool#*:}"); done
  [ ${#missing[@]} -eq 0 ] && return
  if [ "$(id -u)" != 0 ]; then
    log "missing ${missing[*]}: install them (apt-get install -y ${missing[*]}) or run as root"
    exit 1
  fi
  log "installing ${missing[*]}"
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" > /dev/null
}
need mmdebstrap:mmdebstrap gzip:gzip
mkdir -p "$CACHE"

# --- base layer (cached by its recipe) ------------------------------------------------------------
# The recipe is this part of the script; its epoch is fixed so a new commit does not rebuild it.
BASE_EPOCH=1700000000
base_recipe() {
  declare -f base_rootfs
  echo "$SUITE $MIRROR $PACKAGES $BASE_EPOCH"
}
base_rootfs() {
  SOURCE_DATE_EPOCH=$BASE_EPOCH mmdebstrap --quiet --format=tar --variant=essential --include="$PACKAGES" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --customize-hook='echo "kaas:x:10001:10001:kaas:/nonexistent:/usr/sbin/nologin" >> "$1/etc/passwd"' \
    --customize-hook='echo "kaas:x:10001:" >> "$1/etc/group"' \
    --customize-hook='echo "kaas:!:19000::::::" >> "$1/etc/shadow"' \
    --customize-hook='rm -rf "$1"/var/log/* "$1"/var/cache/ldconfig/aux-cache "$1"/var/lib/apt/lists/*' \
    "$SUITE" "$1" "$MIRROR"
}
BASE_KEY=$(base_recipe | sha256sum | cut -c1-16)
BASE=$CACHE/base-$BASE_KEY.tar
if [ ! -s "$BASE" ]; then
  log "building the base rootfs ($SUITE + $PACKAGES) into $BASE"
  base_rootfs "$BASE.tmp"
  mv "$BASE.tmp" "$BASE"
fi

# --- production dependencies (cached by the lock file and the Node ABI) ----------------------------
DEPS_KEY=$( (cat package-lock.json; node -p 'process.versions.modules + process.arch') | sha256sum | cut -c1-16)
DEPS=$CACHE/deps-$DEPS_KEY
if [ ! -d "$DEPS/node_modules" ]; then
  log "installing production dependencies (npm ci --omit=dev) into $DEPS"
  rm -rf "$DEPS" "$DEPS.tmp"
  mkdir -p "$DEPS.tmp"
  cp package.json package-lock.json "$DEPS.tmp/"
  # Native modules (better-sqlite3) build against Debian's Node headers, as scripts/ensure-deps.mjs does.
  [ -f /usr/include/node/node.h ] && export npm_config_nodedir=/usr
  (cd "$DEPS.tmp" && npm ci --omit=dev --no-audit --no-fund --loglevel=error > /dev/null)
  # Build leftovers of native modules: only their .node file is loaded at run time.
  find "$DEPS.tmp/node_modules" -type d \( -name obj.target -o -name .deps -o -name deps \) \
    -path '*/build/*' -prune -exec rm -rf {} +
  mv "$DEPS.tmp" "$DEPS"
fi

# --- the app layer -------------------------------------------------------------------------------
log 'building the server, the CLI and the panel'
node scripts/build.mjs
npx vite build --logLevel warn > /dev/null
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/app/dist" "$STAGE/app/web"
cp package.json "$STAGE/app/"
cp -r bin "$STAGE/app/bin"
cp -r dist/cli "$STAGE/app/dist/cli"
cp -r web/dist "$STAGE/app/web/dist"
cp -r "$DEPS/node_modules" "$STAGE/app/node_modules"
# Nothing runs these: source maps, type declarations, and better-sqlite3's sources and build leftovers
# (only build/Release/better_sqlite3.node is loaded).
find "$STAGE/app" \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \) -delete
SQLITE=$STAGE/app/node_modules/better-sqlite3
rm -rf "$SQLITE/deps" "$SQLITE/src" "$SQLITE/build/Release/obj" "$SQLITE/build/Release/sqlite3.a" \
  "$SQLITE/build/Release/test_extension.node"

# Layers as OCI wants them: sorted entries, one owner, one timestamp, no atime/ctime, gzip without
# a name or time.
tarball() {
  tar --sort=name --format=posix --numeric-owner --owner=0 --group=0 --mode='go-w,a+rX' \
    --mtime="@$SOURCE_DATE_EPOCH" \
    --pax-option='exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime' -C "$1" -cf - app
}
rm -rf "$OUT"
mkdir -p "$OUT"
tarball "$STAGE" > "$STAGE/app.tar"
BASE_GZ=$CACHE/base-$BASE_KEY.tar.gz
[ -s "$BASE_GZ" ] || { gzip -n -c "$BASE" > "$BASE_GZ.tmp" && mv "$BASE_GZ.tmp" "$BASE_GZ"; }
gzip -n -c "$STAGE/app.tar" > "$STAGE/app.tar.gz"

node deploy/image/layout.mjs "$OUT" "$REPOSITORY:$VERSION" "$SOURCE_DATE_EPOCH" \
  "$BASE" "$BASE_GZ" "$STAGE/app.tar" "$STAGE/app.tar.gz"
