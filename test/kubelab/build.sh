#!/usr/bin/env bash
# Builds the upstream binaries kubelab runs, from the Go module proxy with the machine's Go:
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl for the default version
#   kubeadm                                                   for every version in the catalogue
#   etcd, kwok, openstack-cloud-controller-manager            at the versions in src/dev/kube/tools.json
# Each Kubernetes version is built in a small wrapper module that requires k8s.io/kubernetes vX and
# replaces each k8s.io staging module (a ./staging path in its go.mod) with its published v0.X.
# Binaries are cached outside the repository, keyed by version: $KUBELAB_CACHE/<name>/<version>/.
# Prints the cache root on stdout; progress on stderr. Idempotent: a warm cache builds nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
CACHE=${KUBELAB_CACHE:-/var/cache/kaas-kubelab}
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
mkdir -p "$CACHE"
command -v go > /dev/null || { echo "kubelab: Go is needed to build the Kubernetes test binaries (go on PATH, GOTOOLCHAIN=local)" >&2; exit 1; }

catalogue() { node -e "$1" "$root/src/versions/catalogue.json" "$root/src/dev/kube/tools.json"; }
default_version=$(catalogue 'const c=require(process.argv[1]);process.stdout.write(c.versions.find(v=>v.minor===c.default).patch)')
all_versions=$(catalogue 'const c=require(process.argv[1]);process.stdout.write(c.versions.map(v=>v.patch).join(" "))')
etcd_version=$(catalogue 'process.stdout.write(require(process.argv[2]).etcd)')
kwok_version=$(catalogue 'process.stdout.write(require(process.argv[2]).kwok)')
occm_version=$(catalogue 'process.stdout.write(require(process.argv[2]).occm)')

# build_k8s <version> <component>...: the components missing from the cache, in one go build.
build_k8s() {
  local version=$1; shift
  local out="$CACHE/kubernetes/$version" missing=() c
  for c in "$@"; do [ -x "$out/$c" ] || missing+=("$c"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  local minor=${version#*.}; minor=${minor%%.*}
  local mod="$CACHE/src/kubernetes-$version"
  mkdir -p "$mod" "$out"
  if [ ! -f "$mod/go.mod" ]; then
    local gomod
    gomod=$(cd "$mod" && go mod download -json "k8s.io/kubernetes@v$version" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).GoMod))')
    {
      echo "module kaas.local/kubelab"
      grep -m1 '^go ' "$gomod"
      echo "require k8s.io/kubernetes v$version"
      echo "replace ("
      awk '/=> \.\/staging\/src\//{print "\t" $1 " => " $1 " v0.'"$minor"'." substr("'"${version##*.}"'",1)}' "$gomod"
      echo ")"
    } > "$mod/go.mod.tmp"
    mv "$mod/go.mod.tmp" "$mod/go.mod"
  fi
  local pkg=k8s.io/component-base/version cpkg=k8s.io/client-go/pkg/version ld="-s -w"
  local kv
  for kv in "gitVersion=v$version" gitMajor=1 "gitMinor=$minor" gitTreeState=clean \
    gitCommit=0000000000000000000000000000000000000000 buildDate=1970-01-01T00:00:00Z; do
    ld+=" -X $pkg.$kv -X $cpkg.$kv"
  done
  local started=$SECONDS
  echo "kubelab: building ${missing[*]} v$version…" >&2
  for c in "${missing[@]}"; do
    (cd "$mod" && go build -trimpath -ldflags "$ld" -o "$out/$c.tmp" "k8s.io/kubernetes/cmd/$c")
    mv "$out/$c.tmp" "$out/$c"
  done
  echo "kubelab: built ${missing[*]} v$version in $((SECONDS - started)) s" >&2
}

# build_tool <name> <module> <package> <version>: one binary from its own wrapper module.
build_tool() {
  local name=$1 module=$2 pkg=$3 version=$4
  local out="$CACHE/$name/$version"
  [ -x "$out/$name" ] && return 0
  local mod="$CACHE/src/$name-$version" started=$SECONDS
  mkdir -p "$mod" "$out"
  printf 'module kaas.local/kubelab\ngo 1.24\nrequire %s v%s\n' "$module" "$version" > "$mod/go.mod"
  echo "kubelab: building $name v$version…" >&2
  (cd "$mod" && go build -trimpath -ldflags "-s -w" -o "$out/$name.tmp" "$pkg")
  mv "$out/$name.tmp" "$out/$name"
  echo "kubelab: built $name v$version in $((SECONDS - started)) s" >&2
}

# build_occm <version>: openstack-cloud-controller-manager. Its go.mod replaces the k8s.io staging
# modules k8s.io/kubernetes names only as ./staging paths; a wrapper module must repeat those replaces.
build_occm() {
  local version=$1 name=openstack-cloud-controller-manager module=k8s.io/cloud-provider-openstack
  local out="$CACHE/$name/$version"
  [ -x "$out/$name" ] && return 0
  local mod="$CACHE/src/$name-$version" started=$SECONDS gomod
  mkdir -p "$mod" "$out"
  gomod=$(cd "$mod" && go mod download -json "$module@v$version" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).GoMod))')
  {
    echo "module kaas.local/kubelab"
    grep -m1 '^go ' "$gomod"
    echo "require $module v$version"
    sed -n '/^replace (/,/^)/p' "$gomod"
  } > "$mod/go.mod"
  echo "kubelab: building $name v$version…" >&2
  (cd "$mod" && go build -trimpath -ldflags "-s -w" -o "$out/$name.tmp" "$module/cmd/$name")
  mv "$out/$name.tmp" "$out/$name"
  echo "kubelab: built $name v$version in $((SECONDS - started)) s" >&2
}

build_tool etcd go.etcd.io/etcd/server/v3 go.etcd.io/etcd/server/v3 "$etcd_version"
build_tool kwok sigs.k8s.io/kwok sigs.k8s.io/kwok/cmd/kwok "$kwok_version"
# kwok's upstream stages (kept in its module, not in the binary): nodes initialise Ready and keep
# their Lease; pods go Running, complete, and are deleted for real when asked.
kwok_stages="$CACHE/kwok/$kwok_version/stages.yaml"
if [ ! -f "$kwok_stages" ]; then
  kwok_dir=$(cd "$CACHE/src/kwok-$kwok_version" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
  for f in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
    pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
    echo '---'; cat "$kwok_dir/kustomize/stage/$f.yaml"
  done > "$kwok_stages.tmp"
  mv "$kwok_stages.tmp" "$kwok_stages"
fi
# kwok's PortForward CRD (also only in its module): kubelab's opt-in kubelet server forwards a
# pod's ports to a local address by these resources (test/kubelab/etcdmasters.ts uses it).
kwok_crd="$CACHE/kwok/$kwok_version/portforwards-crd.yaml"
if [ ! -f "$kwok_crd" ]; then
  kwok_dir=$(cd "$CACHE/src/kwok-$kwok_version" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
  cat "$kwok_dir/kustomize/crd/bases/kwok.x-k8s.io_portforwards.yaml" > "$kwok_crd.tmp"
  mv "$kwok_crd.tmp" "$kwok_crd"
fi
build_occm "$occm_version"
build_k8s "$default_version" kube-apiserver kube-controller-manager kube-scheduler kubeadm kubectl
for v in $all_versions; do build_k8s "$v" kubeadm; done
echo "$CACHE"
