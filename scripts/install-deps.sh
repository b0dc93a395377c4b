#!/usr/bin/env bash
# Installs every Debian package that berrykit's build, demo and tests need.
# Safe to run again: packages already present are left alone. Works as root or through sudo.
#   --vm  also what the VM tests need (scripts/vm-prepare.sh): qemu, busybox, and the headers of
#         the kernel Debian's linux-image-amd64 points at now (the ABI the VM boots)
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config clang-format git
  libgpiod-dev gpiod device-tree-compiler
  nlohmann-json3-dev catch2 libcli11-dev systemd
  python3 python3-dev pybind11-dev python3-pytest
  python3-gpiozero
  libsqlite3-dev libpaho-mqtt-dev libpaho-mqttpp-dev libssl-dev mosquitto mosquitto-clients python3-paho-mqtt openssl
  libcpp-httplib-dev chromium chromium-driver python3-selenium
)

if [ "${1:-}" = --vm ]; then
  # The archive keeps only the current ABI's headers, so resolve it rather than pin it.
  abi=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/.*Depends: linux-image-\(.*\)-amd64$/\1/p' | head -n1)
  if [ -z "$abi" ]; then
    echo "install-deps: could not resolve the kernel ABI of linux-image-amd64 (apt-get update first?)" >&2
    exit 1
  fi
  packages+=(qemu-system-x86 busybox-static cpio xz-utils bc "linux-headers-${abi}-amd64")
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "install-deps: these packages are missing: ${missing[*]}" >&2
  echo "install-deps: run this script as root, or install sudo, so it can install them." >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
