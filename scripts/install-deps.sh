#!/usr/bin/env bash
# Installs every Debian package tally needs to build, run and test. Idempotent: does nothing
# when all are present. Needs root (apt-get).
set -euo pipefail
PACKAGES=(
  build-essential pkg-config meson ninja-build
  libdpdk-dev dpdk dpdk-dev libpcap-dev
  libboost-dev libyaml-cpp-dev libssh2-1-dev nlohmann-json3-dev
  libcurl4-openssl-dev libsodium-dev libssl-dev
  openssh-server openssh-client tftpd-hpa tftp-hpa curl
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  python3 python3-scapy python3-yaml tshark
  asn1c libabsl-dev freeradius freeradius-utils
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# On a machine with systemd the freeradius package starts a system-wide server on *:1812/1813;
# tally's tests run their own FreeRADIUS from a private config on free 127.0.0.1 ports, so keep
# the packaged one off (a no-op without systemd).
if [[ " ${missing[*]} " == *" freeradius "* ]] && command -v systemctl >/dev/null; then
  $SUDO systemctl disable --now freeradius >/dev/null 2>&1 || true
fi
