#!/usr/bin/env bash
# One nodelab node: a "server" in its own network, mount and UTS namespaces, with its own overlay
# root (lower = the host's root, where build.sh installed Debian's containerd, runc, CNI plugins and
# cloud-init: the stand-in for a Debian cloud image), booted by Debian's cloud-init from a NoCloud
# seed. Called by node.ts, as root:
#   node.sh up   <dir> <name> <address/prefix> <gateway> <bridge> [<CA certificate the image trusts>]
#   node.sh boot <dir>        (runs cloud-init's four stages; user-data and meta-data already in <dir>)
#   node.sh down <dir> <name> (kills every process of the node, unmounts, removes its cgroups and <dir>)
#   node.sh pids <dir> <name> (the node's processes)
# Everything the node writes lands in <dir>: its root's upper layer, containerd's store, its logs.
# The shortcuts a real cloud would not take are marked SHORTCUT (docs/architecture.md lists them).
set -euo pipefail
cmd=$1 dir=$2
ns="$dir/ns"
in_node() { nsenter --net="$ns/net" --mount="$ns/mnt" --uts="$ns/uts" "$@"; }
node_path='/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

# The cgroup every v1 hierarchy gives this node's kubelet (--cgroup-root): two kubelets sharing the
# host's hierarchies must not both manage /kubepods, or each deletes the other's pods as orphans.
# (Made in the v1 hierarchies; runc also makes it in the unified one, so it goes from all.)
cgroup_dirs() { for h in /sys/fs/cgroup/*/; do [ "$h" = /sys/fs/cgroup/unified/ ] || echo "$h$1"; done; }

up() {
  local name=$1 address=$2 gateway=$3 bridge=$4 ca=${5:-}
  if [ ! -d /sys/fs/cgroup/cpuset ] || [ ! -d /sys/fs/cgroup/memory ]; then
    echo "nodelab: this host has no cgroup v1 hierarchies; nodelab knows only that layout (cgroup roots per node)" >&2
    return 1
  fi
  mkdir -p "$ns" "$dir"/{upper,work,merged,containerd,log}
  mount --bind "$ns" "$ns"
  mount --make-private "$ns"
  touch "$ns"/{net,mnt,uts}
  # The image's own files go into the upper layer before it is mounted (never while it is).
  image_files "$name" "$ca"
  unshare --net="$ns/net" --mount="$ns/mnt" --uts="$ns/uts" --propagation private true
  local root="$dir/merged"
  in_node sh -ec "
    mount -t overlay overlay -o lowerdir=/,upperdir=$dir/upper,workdir=$dir/work $root
    mount --rbind /dev $root/dev
    mount --rbind /sys $root/sys
    mount -t proc proc $root/proc
    mount -t tmpfs -o mode=755 tmpfs $root/run
    mount -t tmpfs -o mode=1777 tmpfs $root/tmp
    # containerd's overlayfs snapshots cannot live on an overlay upper layer.
    mkdir -p $root/var/lib/containerd
    mount --bind $dir/containerd $root/var/lib/containerd
    mkdir -p $root/.oldroot
    cd $root
    pivot_root . .oldroot
    umount -l /.oldroot
    rmdir /.oldroot
    mkdir -p /run/lock
    hostname $name
    ip link set lo up
  "
  # The cloud network: eth2 with the fixed IP the cloud gave the server's port, on the bridge that
  # stands in for the cluster's Neutron network.
  local host_if
  host_if=$(host_link "$name")
  ip link add "$host_if" type veth peer name eth2 netns "$ns/net"
  ip link set "$host_if" master "$bridge" up
  in_node sh -ec "
    ip addr add $address dev eth2
    ip link set eth2 up
    ip route add default via $gateway
  "
  local d
  for d in $(cgroup_dirs "nodelab-$name"); do mkdir -p "$d"; done
  cat /sys/fs/cgroup/cpuset/cpuset.cpus > "/sys/fs/cgroup/cpuset/nodelab-$name/cpuset.cpus"
  cat /sys/fs/cgroup/cpuset/cpuset.mems > "/sys/fs/cgroup/cpuset/nodelab-$name/cpuset.mems"
}

# What the "image" brings besides the host's packages: cloud-init's configuration, the systemd
# stand-in, the kubelet's environment, the kernel's built-in module list and the CA it trusts.
image_files() {
  local name=$1 ca=$2 upper="$dir/upper"
  mkdir -p "$upper/etc/cloud/cloud.cfg.d" "$upper/etc/default" "$upper/usr/bin"
  # SHORTCUT: no package mirror is reachable, so package-update-upgrade-install does not run; the
  # packages kaas's user data lists are preinstalled (build.sh). Otherwise only the modules kaas's
  # user data uses, in the stages Debian's cloud.cfg runs them in.
  cat > "$upper/etc/cloud/cloud.cfg.d/99-nodelab.cfg" << 'EOF'
datasource_list: [NoCloud, None]
network: {config: disabled}
cloud_init_modules: [seed_random, bootcmd, write_files, set_hostname, update_hostname, update_etc_hosts, users_groups]
cloud_config_modules: [runcmd]
cloud_final_modules: [scripts_user, final_message]
EOF
  # SHORTCUTS for the kubelet, through the environment file kaas's kubelet drop-in reads:
  # cgroupfs (no systemd to delegate cgroups to), this host's cgroup v1, a cgroup root per node.
  printf 'KUBELET_EXTRA_ARGS="--cgroup-driver=cgroupfs --fail-cgroupv1=false --cgroup-root=/nodelab-%s"\n' \
    "$name" > "$upper/etc/default/kubelet"
  cp "$(dirname "$0")/systemctl.sh" "$upper/usr/bin/systemctl"
  chmod 0755 "$upper/usr/bin/systemctl"
  # SHORTCUT: this VM's kernel has overlay and br_netfilter built in and ships no /lib/modules;
  # modprobe finds built-in modules in modules.builtin.
  local modules="$upper/usr/lib/modules/$(uname -r)"
  mkdir -p "$modules"
  printf 'kernel/fs/overlayfs/overlay.ko\nkernel/net/bridge/br_netfilter.ko\n' > "$modules/modules.builtin"
  : > "$modules/modules.order"
  : > "$modules/modules.builtin.modinfo"
  depmod -b "$upper/usr" "$(uname -r)"
  # The CA of the test's registry, in the CA store as update-ca-certificates leaves it (the bundle
  # Go programs such as containerd read, ending with the local certificates): an operator's image
  # for an air-gapped cloud trusts its mirror's CA this way, not through kaas's user data.
  if [ -n "$ca" ]; then
    mkdir -p "$upper/usr/local/share/ca-certificates" "$upper/etc/ssl/certs"
    cp "$ca" "$upper/usr/local/share/ca-certificates/nodelab-registry.crt"
    cat /etc/ssl/certs/ca-certificates.crt "$ca" > "$upper/etc/ssl/certs/ca-certificates.crt"
  fi
}

boot() {
  local stage
  # Through the node's own view of its root (the upper layer is not written while mounted).
  in_node sh -ec "mkdir -p /var/lib/cloud/seed/nocloud; cp $dir/user-data $dir/meta-data /var/lib/cloud/seed/nocloud/"
  # What cloud-init-local, cloud-init, cloud-config and cloud-final.service run, in order.
  for stage in 'init --local' init 'modules --mode=config' 'modules --mode=final'; do
    echo "== cloud-init $stage" >&2
    # shellcheck disable=SC2086
    in_node env -i PATH="$node_path" HOME=/root LANG=C.UTF-8 cloud-init $stage >&2 || {
      echo "nodelab: cloud-init $stage failed" >&2
      return 1
    }
  done
}

# Pids of every process of the node: in its network or mount namespace (containerd, the kubelet,
# shims, host-network pods) or in its cgroups (pods with namespaces of their own, whose pause and
# containers outlive a killed shim).
node_pids() {
  local name=$1 net mnt
  {
    if net=$(stat -L -c %i "$ns/net" 2> /dev/null) && mnt=$(stat -L -c %i "$ns/mnt" 2> /dev/null); then
      # find fails on processes that exit while it looks: that is no error here.
      find /proc/[0-9]*/ns -maxdepth 1 \( -lname "net:\[$net\]" -o -lname "mnt:\[$mnt\]" \) 2> /dev/null |
        cut -d/ -f3 || true
    fi
    find $(cgroup_dirs "nodelab-$name") -name cgroup.procs -exec cat {} + 2> /dev/null || true
  } | sort -u
}

# The host end of a node's eth2 (a veth on the bridge).
host_link() {
  printf 'nl%s' "$(printf '%s' "$1" | sha256sum | cut -c1-10)"
}

down() {
  local name=$1 pids i d f left=0
  for i in $(seq 50); do
    pids=$(node_pids "$name")
    [ -z "$pids" ] && break
    # shellcheck disable=SC2086
    kill -9 $pids 2> /dev/null || true
    sleep 0.2
  done
  pids=$(node_pids "$name")
  if [ -n "$pids" ]; then
    echo "nodelab: processes survive in $name: $pids" >&2
    left=1
  fi
  # Gone with the namespace too, but only later, as the kernel gets to it: remove it now.
  ip link del "$(host_link "$name")" 2> /dev/null || true
  for f in net mnt uts; do
    if mountpoint -q "$ns/$f" 2> /dev/null; then umount "$ns/$f"; fi
  done
  if mountpoint -q "$ns" 2> /dev/null; then umount "$ns"; fi
  # Pod cgroups go once their processes are gone (deepest first).
  for d in $(cgroup_dirs "nodelab-$name") "/sys/fs/cgroup/unified/nodelab-$name"; do
    if [ -d "$d" ]; then find "$d" -depth -type d -exec rmdir {} + 2> /dev/null || true; fi
    if [ -d "$d" ]; then
      echo "nodelab: cannot remove cgroup $d" >&2
      left=1
    fi
  done
  rm -rf --one-file-system "$dir"
  return $left
}

case $cmd in
  up) up "${@:3}" ;;
  boot) boot ;;
  down) down "$3" ;;
  pids) node_pids "$3" ;;
  *)
    echo "usage: node.sh up|boot|down <dir> ..." >&2
    exit 2
    ;;
esac
