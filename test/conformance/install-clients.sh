#!/usr/bin/env bash
# The reference OpenStack clients the conformance suite drives: Debian's openstackclient and its Octavia
# plugin. Idempotent: apt runs only when one of them is missing. Prints the `openstack` binary's path.
set -euo pipefail
packages=(python3-openstackclient python3-octaviaclient)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]} > 0)); then
  echo "installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}" >&2 ||
    { apt-get -o DPkg::Lock::Timeout=600 update >&2 &&
      apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}" >&2; }
fi
command -v openstack
