#!/bin/bash
# Cinder 21 (Debian bookworm) on http://127.0.0.1:8776/v3: cinder-api (uwsgi), cinder-scheduler, cinder-volume, on
# MariaDB + RabbitMQ (infra.sh) and Keystone (keystone.sh). Idempotent.
# Backend: Cinder's NFS driver, which really creates each volume as a file (sparse raw; snapshots as qcow2
# overlays) on its share. Why not LVM on a loop device: containers (CI, this lab) often have no device-mapper
# (/dev/mapper/control: "No such device"), so lvcreate fails. Why no NFS server: most container kernels lack the
# NFS client. So the share's mount point (where the driver would mount 127.0.0.1:$CI/export) is a bind mount
# of that directory: the driver sees its share mounted and works on the same files an NFS client would show.
# Attach (iSCSI/NFS export to a host) is not set up: the lab has no hypervisor to attach to.
source "$(dirname "$(readlink -f "$0")")/lib.sh"
HERE=$(dirname "$(readlink -f "$0")")
T_START=$(date +%s.%N)
preseed "cinder-common cinder-common/configure_db boolean false"
preseed "cinder-common cinder-common/dbconfig-install boolean false"
preseed "cinder-api cinder-api/register-endpoint boolean false"
# nfs-common: the driver checks that mount.nfs exists before it starts; qemu-utils: volume/snapshot files
apt_install cinder-api cinder-scheduler cinder-volume nfs-common qemu-utils uwsgi-core uwsgi-plugin-python3 \
            util-linux $BASE_PKGS
is_running mariadb && is_running rabbitmq || die "run infra.sh first"
[ -f "$OSLAB_STATE/admin-openrc.sh" ] || die "run keystone.sh first"
source "$OSLAB_STATE/admin-openrc.sh"
H=$OSLAB_HOST

log "registering cinder in keystone"
timeout 120 $PY "$HERE/ks-register.py" "cinder:volumev3:http://$H:8776/v3/%(project_id)s"

CI=$OSLAB_STATE/cinder; mkdir -p "$CI"/{state,locks,export,mnt}
SHARE=$H:$CI/export
MNT=$CI/mnt/$(printf %s "$SHARE" | md5sum | cut -d' ' -f1)   # os-brick's mount point: base + md5(share)
mkdir -p "$MNT"
mountpoint -q "$MNT" || mount --bind "$CI/export" "$MNT" || die "cannot bind-mount $CI/export on $MNT (needs CAP_SYS_ADMIN)"
echo "$SHARE" > "$CI/nfs_shares"

F=$CI/cinder.conf; : > "$F"
for kv in "transport_url=$TRANSPORT" "my_ip=$H" "host=oslab-volume" "state_path=$CI/state" \
          "log_file=$OSLAB_STATE/logs/cinder-app.log" "use_stderr=false" "auth_strategy=keystone" \
          "osapi_volume_listen=$H" "osapi_volume_listen_port=8776" "osapi_volume_workers=1" \
          "api_paste_config=/etc/cinder/api-paste.ini" "rootwrap_config=/etc/cinder/rootwrap.conf" \
          "enabled_backends=nfs" "default_volume_type=__DEFAULT__" "glance_api_servers=http://$H:9292"; do
  ini_set "$F" DEFAULT "${kv%%=*}" "${kv#*=}"
done
ini_set "$F" database connection "$(db cinder)"
ini_set "$F" oslo_concurrency lock_path "$CI/locks"
ini_set "$F" coordination backend_url "file://$CI/locks"
ini_set "$F" oslo_messaging_notifications driver noop
ks_sections "$F" keystone_authtoken cinder
for kv in "volume_driver=cinder.volume.drivers.nfs.NfsDriver" "volume_backend_name=nfs" \
          "nfs_shares_config=$CI/nfs_shares" "nfs_mount_point_base=$CI/mnt" "nfs_sparsed_volumes=true" \
          "nfs_snapshot_support=true" "nas_secure_file_operations=false" "nas_secure_file_permissions=false"; do
  ini_set "$F" nfs "${kv%%=*}" "${kv#*=}"
done
if [ ! -f "$CI/.dbsynced" ]; then
  log "cinder-manage db sync"
  timeout 600 cinder-manage --config-file "$F" db sync > "$OSLAB_STATE/logs/cinder-dbsync.log" 2>&1 \
    || { tail -20 "$OSLAB_STATE/logs/cinder-dbsync.log"; die "cinder db"; }
  touch "$CI/.dbsynced"
fi

start_bg cinder-api uwsgi --plugin python3 --http-socket "$H:8776" --wsgi-file /usr/bin/cinder-wsgi \
   --pyargv "--config-file $F" --master --processes 1 --threads 1 --die-on-term --need-app \
   --buffer-size 65535 --add-header "Connection: close"
for s in scheduler volume; do
  start_bg cinder-$s cinder-$s --config-file "$F"
done

wait_http "http://$H:8776/" 180 || { tail -30 "$OSLAB_STATE"/logs/cinder*.log; die "cinder-api not ready"; }
# Volumes can be created once the scheduler has heard from cinder-volume with its backend up
log "waiting for cinder-volume oslab-volume@nfs to be up"
end=$(( $(date +%s) + 180 ))
until timeout 60 cinder-manage --config-file "$F" service list 2>/dev/null | grep -E '^cinder-volume +oslab-volume@nfs .* enabled +:-\) ' >/dev/null; do
  for s in api scheduler volume; do
    is_running cinder-$s || { tail -30 "$OSLAB_STATE/logs/cinder-$s.log" "$OSLAB_STATE/logs/cinder-app.log"; die "cinder-$s died"; }
  done
  [ "$(date +%s)" -ge "$end" ] && { tail -30 "$OSLAB_STATE/logs/cinder-app.log"; die "cinder-volume never came up"; }
  sleep 2
done
rss=""; for n in cinder-api cinder-scheduler cinder-volume; do rss+="$n=$(rss_kb $n)kB "; done
log "cinder ready in $(awk -v a="$T_START" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s; rss: $rss"
echo "CINDER=http://$H:8776/v3"
