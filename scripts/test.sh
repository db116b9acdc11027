#!/usr/bin/env bash
# The whole test suite, from a fresh machine: dependencies, real services, kubelab's binaries,
# types, lint, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
node scripts/ensure-deps.mjs
bash scripts/services.sh
# Upstream Kubernetes binaries for kubelab, built from the Go module proxy (cached by version).
KUBELAB_CACHE=$(bash test/kubelab/build.sh); export KUBELAB_CACHE
# shellcheck disable=SC1091
source "${OSLAB_STATE:-/var/lib/oslab}/admin-openrc.sh"
echo '== typecheck' >&2; npx tsc --noEmit
echo '== lint' >&2; npx eslint . && npx prettier --check . > /dev/null
echo '== tests' >&2; npx vitest run "$@"
