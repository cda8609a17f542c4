#!/usr/bin/env bash
# Synth speed benchmark (see bench/synth_bench.py).
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 bench/synth_bench.py "$@"
