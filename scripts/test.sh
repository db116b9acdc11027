#!/usr/bin/env bash
# The whole test suite, from a fresh machine: dependencies, real services, types, lint, build, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
node scripts/ensure-deps.mjs
bash scripts/services.sh
# shellcheck disable=SC1091
source "${OSLAB_STATE:-/var/lib/oslab}/admin-openrc.sh"
echo '== typecheck' >&2; npx tsc --noEmit
echo '== lint' >&2; npx eslint . && npx prettier --check . > /dev/null
echo '== tests' >&2; npx vitest run "$@"
