#!/bin/bash
# Octavia 11 (Debian bookworm) on http://127.0.0.1:9876: octavia-api (uwsgi), octavia-worker, octavia-health-manager
# (UDP 127.0.0.1:5555) and octavia-housekeeping, on MariaDB + RabbitMQ (infra.sh), Keystone (keystone.sh) and the
# lab's Neutron (compute.sh). Idempotent.
# Amphora and compute drivers are Octavia's no-op ones (no amphora VMs), so a load balancer goes PENDING_CREATE →
# ACTIVE through the real API, database, RPC and worker flows. The network driver (oslab_octavia.py, copied into
# $OSLAB_STATE/pyext) sends the VIP port and the subnet/network lookups to the real Neutron and leaves the
# amphora-side plumbing no-op: the VIP port is a real Neutron port with an address from the VIP subnet.
source "$(dirname "$(readlink -f "$0")")/lib.sh"
HERE=$(dirname "$(readlink -f "$0")")
T_START=$(date +%s.%N)
# The packages' dbconfig-common/debconf postinst would configure a database and register endpoints: say no.
for p in octavia-common; do preseed "$p $p/configure_db boolean false"; preseed "$p $p/dbconfig-install boolean false"; done
preseed "octavia-api octavia-api/register-endpoint boolean false"
apt_install octavia-api octavia-worker octavia-health-manager octavia-housekeeping uwsgi-core uwsgi-plugin-python3 \
            openssl $BASE_PKGS
is_running mariadb && is_running rabbitmq || die "run infra.sh first"
[ -f "$OSLAB_STATE/admin-openrc.sh" ] || die "run keystone.sh first"
is_running neutron || die "run compute.sh first (Octavia allocates VIP ports in Neutron)"
source "$OSLAB_STATE/admin-openrc.sh"
H=$OSLAB_HOST

log "registering octavia in keystone"
timeout 120 $PY "$HERE/ks-register.py" "octavia:load-balancer:http://$H:9876"

OC=$OSLAB_STATE/octavia; mkdir -p "$OC"/{certs,locks}
mkdir -p "$OSLAB_STATE/pyext/oslab_octavia-1.0.dist-info"
cp "$HERE/oslab_octavia.py" "$OSLAB_STATE/pyext/oslab_octavia.py"
printf 'Metadata-Version: 2.1\nName: oslab-octavia\nVersion: 1.0\n' > "$OSLAB_STATE/pyext/oslab_octavia-1.0.dist-info/METADATA"
printf '[octavia.network.drivers]\noslab_vip_port = oslab_octavia:VipPortDriver\noslab_amphora_side = oslab_octavia:AmphoraSideDriver\n' \
  > "$OSLAB_STATE/pyext/oslab_octavia-1.0.dist-info/entry_points.txt"
# The worker signs each (no-op) amphora's agent certificate with this CA, as it would for a real amphora.
if [ ! -f "$OC/certs/ca.key" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=oslab-octavia-ca \
    -keyout "$OC/certs/ca.key" -out "$OC/certs/ca.pem" 2>/dev/null
  chmod 600 "$OC/certs/ca.key"
fi
[ -f "$OC/passphrase" ] || head -c 24 /dev/urandom | base64 | tr '+/' '-_' > "$OC/passphrase"

F=$OC/octavia.conf; : > "$F"
ini_set "$F" DEFAULT transport_url "$TRANSPORT"
ini_set "$F" DEFAULT log_file "$OSLAB_STATE/logs/octavia-app.log"
ini_set "$F" DEFAULT use_stderr false
ini_set "$F" api_settings bind_host "$H"; ini_set "$F" api_settings bind_port 9876
ini_set "$F" api_settings auth_strategy keystone
ini_set "$F" api_settings default_provider_driver amphora
ini_set "$F" api_settings enabled_provider_drivers "amphora:Amphora driver with no-op amphorae"
ini_set "$F" database connection "$(db octavia)"
ini_set "$F" health_manager bind_ip "$H"; ini_set "$F" health_manager bind_port 5555
ini_set "$F" health_manager controller_ip_port_list "$H:5555"
ini_set "$F" health_manager heartbeat_key "$(cat "$OC/passphrase")"
ini_set "$F" health_manager health_update_threads 1; ini_set "$F" health_manager stats_update_threads 1
ini_set "$F" controller_worker amphora_driver amphora_noop_driver
ini_set "$F" controller_worker compute_driver compute_noop_driver
ini_set "$F" controller_worker network_driver oslab_vip_port
ini_set "$F" controller_worker loadbalancer_topology SINGLE
ini_set "$F" controller_worker workers 1
ini_set "$F" controller_worker client_ca "$OC/certs/ca.pem"
ini_set "$F" certificates cert_generator local_cert_generator
ini_set "$F" certificates ca_certificate "$OC/certs/ca.pem"
ini_set "$F" certificates ca_private_key "$OC/certs/ca.key"
ini_set "$F" certificates server_certs_key_passphrase "$(cat "$OC/passphrase")"
ini_set "$F" house_keeping spare_amphora_pool_size 0
ini_set "$F" oslo_concurrency lock_path "$OC/locks"
ini_set "$F" oslo_messaging topic octavia_prov
ini_set "$F" neutron region_name "$OS_REGION_NAME"; ini_set "$F" neutron endpoint_type public
ini_set "$F" nova region_name "$OS_REGION_NAME"; ini_set "$F" glance region_name "$OS_REGION_NAME"
ks_sections "$F" keystone_authtoken octavia
ks_sections "$F" service_auth octavia
if [ ! -f "$OC/.dbsynced" ]; then
  log "octavia-db-manage upgrade head"
  timeout 600 octavia-db-manage --config-file "$F" upgrade head > "$OSLAB_STATE/logs/octavia-dbsync.log" 2>&1 \
    || { tail -20 "$OSLAB_STATE/logs/octavia-dbsync.log"; die "octavia db"; }
  touch "$OC/.dbsynced"
fi

export PYTHONPATH=$OSLAB_STATE/pyext
start_bg octavia-api uwsgi --plugin python3 --http-socket "$H:9876" --wsgi-file /usr/bin/octavia-wsgi \
   --pyargv "--config-file $F" --master --processes 1 --threads 1 --die-on-term --need-app \
   --buffer-size 65535 --add-header "Connection: close"
# The worker's member flows look up what the no-op amphora plumbing made (oslab_octavia.py).
printf '[controller_worker]\nnetwork_driver = oslab_amphora_side\n' > "$OC/worker.conf"
start_bg octavia-worker octavia-worker --config-file "$F" --config-file "$OC/worker.conf"
for s in health-manager housekeeping; do
  start_bg octavia-$s octavia-$s --config-file "$F"
done

wait_http "http://$H:9876/" 180 || { tail -30 "$OSLAB_STATE"/logs/octavia*.log; die "octavia-api not ready"; }
for s in worker health-manager housekeeping; do
  is_running octavia-$s || { tail -30 "$OSLAB_STATE/logs/octavia-$s.log" "$OSLAB_STATE/logs/octavia-app.log"; die "octavia-$s died"; }
done
rss=""; for n in octavia-api octavia-worker octavia-health-manager octavia-housekeeping; do rss+="$n=$(rss_kb $n)kB "; done
log "octavia ready in $(awk -v a="$T_START" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s; rss: $rss"
echo "OCTAVIA=http://$H:9876"
