#!/usr/bin/env bash
# Deploy rehearsal against the moto AWS emulator (see scripts/deploy_rehearsal.py).
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 scripts/deploy_rehearsal.py "$@"
