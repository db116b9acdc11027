#!/usr/bin/env bash
# Makes sure every real service the test suite talks to is installed and running on 127.0.0.1:
# Debian packages (PostgreSQL server, Chromium, cloud-init) and the OpenStack lab (Keystone, Swift,
# Nova/Neutron/Glance/Placement with the fake driver, Octavia with no-op amphorae, Cinder; test/lab/).
# As root it installs and starts what is missing; as another user it says precisely what is missing and fails.
set -euo pipefail
cd "$(dirname "$0")/.."
OSLAB_STATE=${OSLAB_STATE:-/var/lib/oslab}
PACKAGES=(postgresql chromium cloud-init ignition fonts-dejavu-core)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
lab_up() { curl -fsS -o /dev/null --max-time 5 http://127.0.0.1:5000/v3 \
  && curl -fsS -o /dev/null --max-time 5 http://127.0.0.1:8888/healthcheck \
  && curl -s -o /dev/null --max-time 5 http://127.0.0.1:8774/ \
  && curl -s -o /dev/null --max-time 5 http://127.0.0.1:9876/ \
  && curl -s -o /dev/null --max-time 5 http://127.0.0.1:8776/ \
  && [ -f "$OSLAB_STATE/admin-openrc.sh" ]; }

if [ "$(id -u)" != 0 ]; then
  if [ ${#missing[@]} -gt 0 ]; then
    echo "missing Debian packages: ${missing[*]} — run as root: apt-get install -y ${missing[*]}" >&2; exit 1
  fi
  lab_up || { echo "the OpenStack lab is not running: run as root: test/lab/up-all.sh" >&2; exit 1; }
  exit 0
fi

if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  # postinst scripts must not start daemons (no systemd here); the lab's lib.sh does the same.
  [ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 0755 /usr/sbin/policy-rc.d; }
  echo "installing ${missing[*]}…" >&2
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}" > /tmp/kaas-apt.log 2>&1 \
    || { tail -30 /tmp/kaas-apt.log; exit 1; }
fi
lab_up || test/lab/up-all.sh
