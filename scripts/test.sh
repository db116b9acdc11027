#!/usr/bin/env bash
# The whole test suite, from a fresh machine: dependencies, real services, kubelab's binaries,
# types, lint, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
node scripts/ensure-deps.mjs
bash scripts/services.sh
# Upstream Kubernetes binaries for kubelab, built from the Go module proxy (cached by version).
KUBELAB_CACHE=$(bash test/kubelab/build.sh); export KUBELAB_CACHE
# Real nodes for nodelab: kubelet, kube-proxy, CoreDNS, flannel and their images (cached by version).
NODELAB_CACHE=$(bash test/nodelab/build.sh); export NODELAB_CACHE
# shellcheck disable=SC1091
source "${OSLAB_STATE:-/var/lib/oslab}/admin-openrc.sh"
echo '== typecheck' >&2; npx tsc --noEmit && npx tsc -p web --noEmit
echo '== lint' >&2; npx eslint . && npx prettier --check . > /dev/null
# The CLI tests spawn bin/kaas.mjs, which runs dist/cli; vitest's globalSetup (test/setup/build.ts)
# rebuilds it too, for runs that do not come through here.
echo '== build' >&2; node scripts/build.mjs
# The OCI image of kaas serve: a cold build makes the Debian base and the production dependencies
# (cached in /var/cache/kaas-image), so that test/image builds and runs it warm.
echo '== image' >&2; bash deploy/image/build.sh > /dev/null
echo '== tests' >&2; npx vitest run "$@"
