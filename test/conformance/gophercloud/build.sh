#!/usr/bin/env bash
# Builds the gophercloud conformance program (gophercloud from the Go module proxy) into
# $KUBELAB_CACHE/gophercloud-conformance/<sha256 of go.mod, go.sum and *.go>/ and prints the binary's
# path; a binary already built from the same sources is reused.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
# The glob in byte order, so the hash is the same under any locale.
hash="$(export LC_ALL=C; cat go.mod go.sum ./*.go | sha256sum | cut -d' ' -f1)"
dir="${KUBELAB_CACHE:-/var/cache/kaas-kubelab}/gophercloud-conformance/$hash"
bin="$dir/gophercloud-conformance"
if [ ! -x "$bin" ]; then
  mkdir -p "$dir"
  # Built beside its final name and moved, so a concurrent or interrupted build never leaves half a binary.
  GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -o "$bin.tmp.$$" . >&2
  mv -f "$bin.tmp.$$" "$bin"
fi
echo "$bin"
