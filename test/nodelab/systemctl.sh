#!/bin/bash
# SHORTCUT: nodelab's stand-in for systemd, installed as /usr/bin/systemctl in each node's root.
# The node has no systemd (it is a set of namespaces, not a VM), so this does what systemd would do
# for the two services kaas's user data and kubeadm drive: containerd and kubelet. A started service
# runs under a small supervisor that restarts it when it exits (Restart=always), the way kubeadm
# expects the kubelet to come back after `systemctl restart kubelet`.
#   kubelet    runs the ExecStart of /etc/systemd/system/kubelet.service and its drop-ins (the
#              files kaas's user data writes), with their Environment= and EnvironmentFile= lines.
#   containerd runs with /etc/containerd/config.toml as the user data wrote it, changed in two
#              settings this host needs: SystemdCgroup off (no systemd) and restrict_oom_score_adj
#              on (the VM's bounding set lacks CAP_SYS_RESOURCE, so runc cannot lower oom scores).
#   oneshot    units (kaas's metadata guard) run their ExecStart to completion, as systemd does; with
#              RemainAfterExit they then count as active.
set -uo pipefail
run=/run/nodelab
mkdir -p "$run"

supervise() {
  local unit=$1
  shift
  setsid bash -c '
    while true; do
      "$@" >> "/var/log/nodelab-$0.log" 2>&1 < /dev/null &
      echo $! > "/run/nodelab/$0.main"
      wait $!
      sleep 2
    done' "$unit" "$@" > /dev/null 2>&1 < /dev/null &
  echo $! > "$run/$unit.pid"
}

stop() {
  local unit=$1
  [ -f "$run/$unit.pid" ] || return 0
  kill "$(cat "$run/$unit.pid")" 2> /dev/null
  [ -f "$run/$unit.main" ] && kill "$(cat "$run/$unit.main")" 2> /dev/null
  rm -f "$run/$unit.pid" "$run/$unit.main"
}

# The kubelet's command line from its unit and drop-ins, expanded like systemd's ExecStart.
kubelet_command() {
  local f line exec=''
  for f in /etc/systemd/system/kubelet.service /etc/systemd/system/kubelet.service.d/*.conf; do
    [ -f "$f" ] || continue
    while IFS= read -r line; do
      case $line in
        Environment=*)
          line=${line#Environment=}
          line=${line#\"}
          line=${line%\"}
          export "${line?}"
          ;;
        EnvironmentFile=*)
          line=${line#EnvironmentFile=}
          line=${line#-}
          if [ -f "$line" ]; then
            set -a
            # shellcheck disable=SC1090
            . "$line"
            set +a
          fi
          ;;
        ExecStart=*) exec=${line#ExecStart=} ;;
      esac
    done < "$f"
  done
  [ -n "$exec" ] || {
    echo "systemctl (nodelab): kubelet.service has no ExecStart" >&2
    return 1
  }
  # systemd splits an unquoted $VAR into words: so does an unquoted expansion.
  eval "echo $exec"
}

start() {
  case $1 in
    kubelet)
      local command
      command=$(kubelet_command) || return 1
      # shellcheck disable=SC2086
      supervise kubelet $command
      ;;
    containerd)
      local config=/etc/containerd/config.toml
      if [ -f "$config" ]; then
        sed -e 's/SystemdCgroup = true/SystemdCgroup = false/' \
          -e 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' "$config" > "$run/containerd.toml"
      else
        containerd config default | sed 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' > "$run/containerd.toml"
      fi
      supervise containerd containerd --config "$run/containerd.toml"
      local i
      for i in $(seq 100); do
        ctr version > /dev/null 2>&1 && break
        sleep 0.2
      done
      ;;
    *)
      local file=/etc/systemd/system/$1.service
      if [ -f "$file" ] && grep -qx 'Type=oneshot' "$file"; then
        eval "$(sed -n 's/^ExecStart=//p' "$file")" || return 1
        touch "$run/$1.done"
        return 0
      fi
      echo "systemctl (nodelab): no unit $1" >&2
      return 5
      ;;
  esac
}

verb=${1:-}
shift || true
while [ $# -gt 0 ] && [[ $1 == -* ]]; do shift; done
unit=${1:-}
unit=${unit%.service}
case $verb in
  daemon-reload | enable | disable) exit 0 ;;
  is-enabled)
    echo enabled
    exit 0
    ;;
  status | is-active)
    [ "$verb" = status ] && echo "Loaded: loaded (nodelab stand-in for $unit.service)"
    if [ -f "$run/$unit.done" ] || { [ -f "$run/$unit.pid" ] && kill -0 "$(cat "$run/$unit.pid")" 2> /dev/null; }; then
      echo active
      exit 0
    fi
    echo inactive
    exit 3
    ;;
  start)
    [ -f "$run/$unit.pid" ] && kill -0 "$(cat "$run/$unit.pid")" 2> /dev/null && exit 0
    start "$unit"
    ;;
  restart)
    stop "$unit"
    start "$unit"
    ;;
  stop) stop "$unit" ;;
  *)
    echo "systemctl (nodelab): $verb is not supported" >&2
    exit 1
    ;;
esac
