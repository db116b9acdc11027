#!/usr/bin/env bash
# Prints the path of a schemathesis (`st`) binary, installing it from PyPI into a venv cached
# outside the repo. Idempotent: a cache whose pinned version matches is reused without any network.
set -euo pipefail
VERSION=4.32.5
VENV=${KAAS_VENV:-/var/cache/kaas-venv}
if [ "$("$VENV/bin/st" --version 2>/dev/null | grep -o '[0-9][0-9.]*$')" != "$VERSION" ]; then
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION" >&2
fi
echo "$VENV/bin/st"
