#!/usr/bin/env bash
# Builds berrykit a second time, against libgpiod 2.x (Debian bookworm-backports' 2.1.3 in a
# private folder, see fetch-libgpiod2.sh), beside the usual build against the system's 1.6, and
# runs the libgpiod backend's tests there. The system's libgpiod is not touched.
#   BERRYKIT_GPIOD2_BUILD_DIR  build folder (default: build-gpiod2)
#   BERRYKIT_LIBGPIOD2_DIR     where libgpiod 2.x is unpacked (default: /var/cache/berrykit-libgpiod2)
#   BERRYKIT_JOBS              parallel compile jobs (default: the number of cores)
#   BERRYKIT_GPIOD2_TARGETS    build only these targets (space-separated; default: everything).
#                              scripts/test.sh builds what the gpiod and VM tests run, no more.
# Arguments go to the test run: `scripts/build-gpiod2.sh -R gpiod` (the default), or `-L cpp`.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${BERRYKIT_GPIOD2_BUILD_DIR:-build-gpiod2}
libgpiod2=$(bash scripts/fetch-libgpiod2.sh)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
libdir="$libgpiod2/usr/lib/$multiarch"

launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi

# PKG_CONFIG_PATH puts the private libgpiod.pc before the system's 1.6 one. No LD_LIBRARY_PATH:
# CMake gives the build tree's programs and berrykit._core a RUNPATH to the private
# libgpiodcxx.so.2 and libgpiod.so.3 (pkg-config hands it their full paths, and FindLibgpiod
# links both), so the tests and Python load 2.x by themselves.
export PKG_CONFIG_PATH="$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
cmake -S . -B "$build_dir" -G Ninja \
  -DCMAKE_BUILD_TYPE="${BERRYKIT_BUILD_TYPE:-RelWithDebInfo}" \
  -DPython3_EXECUTABLE=/usr/bin/python3 \
  "${launcher[@]}"
if ! grep -q '^BERRYKIT_GPIOD_API_BUILT:INTERNAL=2$' "$build_dir/CMakeCache.txt"; then
  echo "build-gpiod2: CMake did not pick libgpiod 2.x from $libdir/pkgconfig (see the configure output above)" >&2
  exit 1
fi
targets=()
for target in ${BERRYKIT_GPIOD2_TARGETS:-}; do targets+=(--target "$target"); done
cmake --build "$build_dir" -j "${BERRYKIT_JOBS:-$(nproc)}" "${targets[@]}"

[ $# -gt 0 ] || set -- -R gpiod
ctest --test-dir "$build_dir" --output-on-failure --timeout 300 "$@"
