#!/usr/bin/env bash
# terraform validate on every synthesized stack with the real AWS provider (see scripts/tf_validate.py).
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 scripts/tf_validate.py "$@"
