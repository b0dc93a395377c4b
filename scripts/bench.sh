#!/usr/bin/env bash
# Builds berrykit, then prints the benchmark figures: the Python package against gpiozero 1.6 on
# their simulated boards (bench/bench_python.py), berrykitd's (bench/bench_daemon.py), its
# outbox's (bench/bench_outbox.cpp), and its cloud bridge's through a local mosquitto
# (bench/bench_cloud.py, about 2.5 minutes with its 60 s broker outage); the last two on the disk
# that holds the build folder; then the classroom page's in headless Chromium (bench/bench_page.py).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh >/dev/null
/usr/bin/python3 bench/bench_python.py
echo
/usr/bin/python3 bench/bench_daemon.py --berrykitd build/daemon/berrykitd
echo
build/bench/bench_outbox build
echo
/usr/bin/python3 bench/bench_cloud.py --berrykitd build/daemon/berrykitd --dir build
echo
/usr/bin/python3 bench/bench_page.py --berrykitd build/daemon/berrykitd
