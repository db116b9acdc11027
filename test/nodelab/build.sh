#!/usr/bin/env bash
# Builds what a nodelab node runs that kubelab does not already build, pulling from no registry:
#   kubelet, kube-proxy for the catalogue's default version and the minor before it (where upgrades
#     start), from the Go module proxy in the wrapper module kubelab builds each version's kubeadm
#     in (test/kubelab/build.sh, which this runs first); for the previous minor also its
#     kube-apiserver, kube-controller-manager, kube-scheduler and kubectl (kubelab builds those for
#     the default version only);
#   CoreDNS and flannel (+ its CNI plugin) at the versions the catalogue and src/addons name, from
#     the Go module proxy; pause from the Kubernetes module's own pause.c;
#   one OCI image tarball per image kaas's kubeadm config (of each of those two versions) and
#     managed services reference, named as upstream names it, which the nodelab suites push with
#     skopeo into the registry they start for a run (test/nodelab/registry.ts, under the names a
#     cluster with that image repository pulls).
# Debian's containerd, runc, CNI plugins, cloud-init, busybox-static, nftables (kaas's metadata
# guard) and the tools kubeadm's preflight looks for are installed with apt when missing (a node's
# root is the host's root), and so are docker-registry (the distribution registry) and skopeo,
# which the suites run on the host.
# Cached outside the repository: $NODELAB_CACHE/{bin,images}/<version>/. Prints the cache root on
# stdout; progress on stderr. Idempotent: a warm cache builds nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
CACHE=${NODELAB_CACHE:-/var/cache/kaas-nodelab}
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
log() { echo "nodelab: $*" >&2; }

packages=(containerd runc containernetworking-plugins cloud-init busybox-static iptables conntrack
  socat ethtool iproute2 kmod curl util-linux nftables gcc libc6-dev docker-registry skopeo)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f '${Status}' "$p" 2> /dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  # No package's own service may start: docker-registry's would listen on :5000, the lab's Keystone
  # port (the suites run their own registry). policy-rc.d is how Debian says so, systemd or not.
  policy=/usr/sbin/policy-rc.d
  added_policy=
  if [ ! -e $policy ]; then
    printf '#!/bin/sh\nexit 101\n' > $policy
    chmod 755 $policy
    added_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}" >&2 || {
    apt-get -o DPkg::Lock::Timeout=600 update >&2
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}" >&2
  }
  [ -z "$added_policy" ] || rm -f $policy
  # Nor at the next boot.
  if [[ " ${missing[*]} " == *' docker-registry '* ]] && [ -d /run/systemd/system ]; then
    systemctl disable docker-registry >&2
  fi
fi

KUBELAB_CACHE=$(bash "$root/test/kubelab/build.sh")
# The default release and the one before it, each with the image tags its kubeadm deploys
# (src/versions/catalogue.json): "patch etcd coredns pause" per line, the default first.
mapfile -t releases < <(node -e '
  const c = require(process.argv[1]); const i = c.versions.findIndex((v) => v.minor === c.default);
  for (const r of [c.versions[i], c.versions[i - 1]])
    if (r) console.log(r.patch, r.images.etcd, r.images.coredns, r.images.pause);' "$root/src/versions/catalogue.json")
[ ${#releases[@]} -eq 2 ] || {
  log "the version catalogue lists no minor before its default"
  exit 1
}
read -r version _ coredns_tag _ <<< "${releases[0]}"
# The managed services' pinned images (src/addons/images.ts), read as text: only flannel's two.
addon_image() { sed -n "s/^  $1: '\\(.*\\)',\$/\\1/p" "$root/src/addons/images.ts"; }
flannel_image=$(addon_image flannel)
flannel_cni_image=$(addon_image flannelCniPlugin)
[ -n "$flannel_image" ] && [ -n "$flannel_cni_image" ] || {
  log "cannot read flannel's images from src/addons/images.ts"
  exit 1
}
etcd_version=$(node -e 'process.stdout.write(require(process.argv[1]).etcd)' "$root/src/dev/kube/tools.json")

# The default version's directories also hold what serves every version (CoreDNS's and flannel's).
bin="$CACHE/bin/$version"
images="$CACHE/images/$version"
mkdir -p "$bin" "$images" "$CACHE/src"

# go_build <out> <module dir> <package> [ldflags]: one binary, skipped when cached.
go_build() {
  local out=$1 mod=$2 pkg=$3 ld=${4:-"-s -w"}
  [ -x "$out" ] && return 0
  local started=$SECONDS
  log "building $pkg…"
  (cd "$mod" && nice go build -trimpath -ldflags "$ld" -o "$out.tmp" "$pkg")
  mv "$out.tmp" "$out"
  log "built $(basename "$out") in $((SECONDS - started)) s"
}

# tool_module <name> <module> <version>: a wrapper module requiring one upstream module.
tool_module() {
  local dir="$CACHE/src/$1-$3"
  if [ ! -f "$dir/go.mod" ]; then
    mkdir -p "$dir"
    printf 'module kaas.local/nodelab\ngo 1.24\nrequire %s %s\n' "$2" "$3" > "$dir/go.mod"
  fi
  echo "$dir"
}
coredns_mod=$(tool_module coredns github.com/coredns/coredns "$coredns_tag")
go_build "$bin/coredns" "$coredns_mod" github.com/coredns/coredns
# The module proxy refuses flannel v0.26.4 and every flannel-io/cni-plugin version: flannel's
# next patch of the same minor stands in for its image, and the CNI plugin's upstream origin
# (containernetworking/plugins' meta/flannel, last shipped in v0.9.1; same config, same delegation
# to bridge) for flannel-cni-plugin. Both run under the tags src/addons/images.ts names.
flannel_source=v0.26.7
flannel_mod=$(tool_module flannel github.com/flannel-io/flannel "$flannel_source")
# flannel's udp backend is C (as upstream builds it: cgo, linked statically).
CGO_ENABLED=1 go_build "$bin/flanneld" "$flannel_mod" github.com/flannel-io/flannel \
  "-s -w -X github.com/flannel-io/flannel/pkg/version.Version=$flannel_source -extldflags -static"
flannel_cni_mod=$(tool_module cni-plugins github.com/containernetworking/plugins v0.9.1)
go_build "$bin/flannel" "$flannel_cni_mod" github.com/containernetworking/plugins/plugins/meta/flannel

# image <name> <tarball> <entrypoint json|-> <src:dest | link:target:dest>...: a one-layer OCI
# image layout as a tarball, reproducible (fixed mtimes, sorted names, root-owned).
image() {
  local name=$1 out="$images/$2" entrypoint=$3
  shift 3
  [ -f "$out" ] && return 0
  local work
  work=$(mktemp -d)
  local rootfs="$work/rootfs" blobs="$work/oci/blobs/sha256"
  mkdir -p "$rootfs"/{etc,tmp,dev,proc,sys,run,var/run} "$blobs"
  chmod 1777 "$rootfs/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$rootfs/etc/group"
  local item
  for item in "$@"; do
    if [[ $item == link:* ]]; then
      item=${item#link:}
      mkdir -p "$rootfs$(dirname "${item#*:}")"
      ln -s "${item%%:*}" "$rootfs${item#*:}"
    else
      mkdir -p "$rootfs$(dirname "${item#*:}")"
      cp -L --preserve=mode "${item%%:*}" "$rootfs${item#*:}"
    fi
  done
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$rootfs" -cf "$work/layer.tar" .
  local diff_id layer layer_size config config_size manifest manifest_size
  diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
  gzip -n -c "$work/layer.tar" > "$work/layer.tar.gz"
  layer=$(sha256sum "$work/layer.tar.gz" | cut -d' ' -f1)
  layer_size=$(stat -c %s "$work/layer.tar.gz")
  mv "$work/layer.tar.gz" "$blobs/$layer"
  local ep=''
  [ "$entrypoint" != - ] && ep=",\"Entrypoint\":$entrypoint"
  printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/opt/bin"]%s},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$ep" "$diff_id" > "$work/config.json"
  config=$(sha256sum "$work/config.json" | cut -d' ' -f1)
  config_size=$(stat -c %s "$work/config.json")
  mv "$work/config.json" "$blobs/$config"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
    "$config" "$config_size" "$layer" "$layer_size" > "$work/manifest.json"
  manifest=$(sha256sum "$work/manifest.json" | cut -d' ' -f1)
  manifest_size=$(stat -c %s "$work/manifest.json")
  mv "$work/manifest.json" "$blobs/$manifest"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$manifest" "$manifest_size" "$name" "${name##*:}" > "$work/oci/index.json"
  printf '{"imageLayoutVersion":"1.0.0"}' > "$work/oci/oci-layout"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work/oci" -cf "$out.tmp" .
  mv "$out.tmp" "$out"
  rm -rf "$work"
  log "image $name"
}

# Files that make a dynamically linked binary run in an image: itself plus its shared libraries.
with_libs() {
  local f lib
  for f in "$@"; do
    echo "$f:$f"
    for lib in $(ldd "$f" 2> /dev/null | awk '/=> \//{print $3} /^\t\/lib/{print $1}'); do echo "$lib:$lib"; done
  done | sort -u
}
# iptables (nft backend, as Debian's default alternative) for kube-proxy and flanneld.
mapfile -t iptables_files < <(
  with_libs /usr/sbin/xtables-nft-multi /usr/sbin/conntrack /usr/lib/x86_64-linux-gnu/xtables/*.so
  for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
    echo "link:xtables-nft-multi:/usr/sbin/$t"
  done
  echo /etc/protocols:/etc/protocols
  echo /etc/services:/etc/services
  echo /etc/ethertypes:/etc/ethertypes
)
busybox=(/bin/busybox:/bin/busybox link:busybox:/bin/sh link:busybox:/bin/cp link:busybox:/bin/sleep
  link:busybox:/bin/cat link:busybox:/bin/ls link:busybox:/bin/wget link:busybox:/bin/nslookup
  link:busybox:/bin/ip link:busybox:/bin/echo link:busybox:/bin/hostname)

k8s=registry.k8s.io
image "$flannel_image" flannel.tar '["/opt/bin/flanneld"]' "$bin/flanneld:/opt/bin/flanneld" \
  "${iptables_files[@]}" "${busybox[@]}"
image "$flannel_cni_image" flannel-cni-plugin.tar - "$bin/flannel:/flannel" "${busybox[@]}"
image docker.io/library/busybox:stable busybox.tar '["/bin/sh"]' "${busybox[@]}"
coredns_bin="$bin/coredns"

# k8s_binary <version> <component>: kubelab's build of it, else this script's.
k8s_binary() {
  local path="$KUBELAB_CACHE/kubernetes/$1/$2"
  [ -x "$path" ] || path="$CACHE/bin/$1/$2"
  echo "$path"
}

# release_for <patch> <etcd tag> <coredns tag> <pause tag>: a release's node binaries, the images
# its kubeadm deploys under their tags, and its release tarball.
release_for() {
  local version=$1 etcd_tag=$2 coredns_tag=$3 pause_tag=$4
  local bin="$CACHE/bin/$version" images="$CACHE/images/$version"
  mkdir -p "$bin" "$images"
  # In kubelab's wrapper module of this version (same go.mod, so the build cache is shared).
  local k8s_mod="$KUBELAB_CACHE/src/kubernetes-$version" minor=${version#*.} ld="-s -w" kv c
  minor=${minor%%.*}
  for kv in "gitVersion=v$version" gitMajor=1 "gitMinor=$minor" gitTreeState=clean \
    gitCommit=0000000000000000000000000000000000000000 buildDate=1970-01-01T00:00:00Z; do
    ld+=" -X k8s.io/component-base/version.$kv -X k8s.io/client-go/pkg/version.$kv"
  done
  for c in kubelet kube-proxy kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    [ -x "$(k8s_binary "$version" "$c")" ] || go_build "$bin/$c" "$k8s_mod" "k8s.io/kubernetes/cmd/$c" "$ld"
  done
  if [ ! -x "$bin/pause" ]; then
    local pause_c
    pause_c=$(cd "$k8s_mod" && go list -m -f '{{.Dir}}' k8s.io/kubernetes)/build/pause/linux/pause.c
    gcc -static -Os -Wall -Werror "-DVERSION=v$pause_tag" -o "$bin/pause.tmp" "$pause_c"
    strip "$bin/pause.tmp"
    mv "$bin/pause.tmp" "$bin/pause"
  fi

  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    image "$k8s/$c:v$version" "$c.tar" - "$(k8s_binary "$version" "$c"):/usr/local/bin/$c"
  done
  image "$k8s/kube-proxy:v$version" kube-proxy.tar - "$bin/kube-proxy:/usr/local/bin/kube-proxy" "${iptables_files[@]}"
  # etcd: kubelab's etcd build stands in under the tag kubeadm deploys for each release.
  image "$k8s/etcd:$etcd_tag" etcd.tar - "$KUBELAB_CACHE/etcd/$etcd_version/etcd:/usr/local/bin/etcd"
  image "$k8s/pause:$pause_tag" pause.tar '["/pause"]' "$bin/pause:/pause"
  # CoreDNS: the default release's build, also under an earlier release's tag (kaas's upgrade
  # moves the Deployment to the default's tag once every API server is new).
  image "$k8s/coredns/coredns:$coredns_tag" coredns.tar '["/coredns"]' "$coredns_bin:/coredns"

  # The release as dl.k8s.io lays it out, for a release mirror (KAAS_RELEASE_MIRROR): the binaries a
  # node's user data installs from it, with kubelab's kubectl and (wrapped, below) kubeadm.
  local release="$CACHE/release/v$version" work
  if [ ! -f "$release/kubernetes-server-linux-amd64.tar.gz" ]; then
    work=$(mktemp -d)
    mkdir -p "$work/kubernetes/server/bin" "$release"
    cp "$(k8s_binary "$version" kubectl)" "$bin/kubelet" "$bin/kube-proxy" "$work/kubernetes/server/bin/"
    # SHORTCUT: this VM runs cgroup v1, which kubeadm's preflight refuses for kubelets from 1.35 on
    # (the kubelet itself runs on it with --fail-cgroupv1=false, see node.sh). The release's kubeadm
    # is upstream kubeadm behind a wrapper that ignores the SystemVerification check on init/join;
    # every other check runs. The binary is read from this cache, visible in each node's root.
    cat > "$work/kubernetes/server/bin/kubeadm" << EOF
#!/bin/sh
# nodelab: upstream kubeadm v$version; see test/nodelab/build.sh (SHORTCUT) for why this wrapper.
case "\$1 \$2" in
  'init phase'* | 'join phase'*) ;;
  init* | join*) exec $KUBELAB_CACHE/kubernetes/$version/kubeadm "\$@" --ignore-preflight-errors=SystemVerification ;;
esac
exec $KUBELAB_CACHE/kubernetes/$version/kubeadm "\$@"
EOF
    chmod 0755 "$work/kubernetes/server/bin/kubeadm"
    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work" -cf - kubernetes |
      gzip -n -1 > "$release/kubernetes-server-linux-amd64.tar.gz.tmp"
    mv "$release/kubernetes-server-linux-amd64.tar.gz.tmp" "$release/kubernetes-server-linux-amd64.tar.gz"
    rm -rf "$work"
    log "release v$version packed"
  fi
}
for r in "${releases[@]}"; do
  # shellcheck disable=SC2086
  release_for $r
done
echo "$CACHE"
