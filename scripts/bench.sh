#!/usr/bin/env bash
# Builds berrykit, then prints the benchmark figures (bench/bench_python.py) side by side with
# gpiozero 1.6 on their simulated boards.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh >/dev/null
exec /usr/bin/python3 bench/bench_python.py "$@"
