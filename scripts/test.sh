#!/usr/bin/env bash
# Runs every berrykit test: installs what is needed, builds, then one ctest run (C++ unit tests,
# Python tests, the installed-package check, the VM tests), then the libgpiod backend's tests and
# VM tests again in a second build against libgpiod 2.x, then the C++ unit tests again under
# AddressSanitizer + UndefinedBehaviorSanitizer and ThreadSanitizer. Exits non-zero on any failure.
#   BERRYKIT_SANITIZERS=0  skips the sanitizer builds (quicker while developing)
#   BERRYKIT_VM=0          skips the VM tests and the libgpiod 2.x build (quicker while developing).
#                          The VM tests (ctest label `vm`, tests/vm/README.md) run the libgpiod
#                          backend and berrykitd under a real kernel's gpio-sim, in QEMU. The first
#                          run installs qemu and downloads a kernel and its source (about 260 MB).
set -euo pipefail
cd "$(dirname "$0")/.."
export BERRYKIT_BOARD=sim   # tests never touch real GPIO, even on a Pi

bash scripts/build.sh -DBERRYKIT_TEST_INSTALLED=ON
vm_tests=(-LE vm)
if [ "${BERRYKIT_VM:-1}" != 0 ]; then
  vm_tests=()
  bash scripts/vm-prepare.sh >/dev/null   # qemu, the kernel and gpio-sim, before the clock starts
fi
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 300 "${vm_tests[@]}"

if [ "${BERRYKIT_VM:-1}" != 0 ]; then
  echo "test: the libgpiod backend and the VM tests again, built against libgpiod 2.x (build-gpiod2/)"
  BERRYKIT_GPIOD2_TARGETS="test_gpiod_backend test_gpiod_conformance berrykitd berrykit" \
    bash scripts/build-gpiod2.sh -R '^(gpiod_backend|vm):'
fi

if [ "${BERRYKIT_SANITIZERS:-1}" != 0 ]; then
  for san in "address;undefined" "thread"; do
    dir="build-san-${san%%;*}"
    echo "test: C++ unit tests with -fsanitize=${san}"
    cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DBERRYKIT_SANITIZE="$san" \
      -DBERRYKIT_BUILD_PYTHON=OFF -DBERRYKIT_BUILD_BENCH=OFF \
      $(command -v ccache >/dev/null && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache) >/dev/null
    cmake --build "$dir" -j "$(nproc)"
    TSAN_OPTIONS="halt_on_error=1" ASAN_OPTIONS="detect_leaks=1" UBSAN_OPTIONS="print_stacktrace=1" \
      ctest --test-dir "$dir" --output-on-failure -j "$(nproc)" --timeout 300 -L cpp
  done
fi
