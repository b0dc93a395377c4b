#!/usr/bin/env bash
# Builds berrykit, then prints the benchmark figures: the Python package against gpiozero 1.6 on
# their simulated boards (bench/bench_python.py), and berrykitd's (bench/bench_daemon.py).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh >/dev/null
/usr/bin/python3 bench/bench_python.py
echo
/usr/bin/python3 bench/bench_daemon.py --berrykitd build/daemon/berrykitd
