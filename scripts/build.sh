#!/usr/bin/env bash
# Builds berrykit and installs its Python package where Debian's /usr/bin/python3 finds it.
# Installs the Debian packages it needs first. Safe to run again.
#   BERRYKIT_BUILD_DIR   build folder (default: build)
#   BERRYKIT_BUILD_TYPE  CMake build type (default: RelWithDebInfo)
#   BERRYKIT_NO_INSTALL  set to 1 to leave the Python package in the build folder only
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

build_dir=${BERRYKIT_BUILD_DIR:-build}
launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi

cmake -S . -B "$build_dir" -G Ninja \
  -DCMAKE_BUILD_TYPE="${BERRYKIT_BUILD_TYPE:-RelWithDebInfo}" \
  -DPython3_EXECUTABLE=/usr/bin/python3 \
  "${launcher[@]}" "$@"
cmake --build "$build_dir" -j "$(nproc)"

if [ "${BERRYKIT_NO_INSTALL:-0}" != 1 ]; then
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" cmake --install "$build_dir" --component python >/dev/null
  echo "build: the berrykit Python package is installed for /usr/bin/python3"
fi
