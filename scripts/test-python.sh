#!/usr/bin/env bash
# Lint and test the Python side (the chat Lambda, the fake model, the dev worker, the
# benchmark), from the repo root. npm run test:python. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

export PYTHONDONTWRITEBYTECODE=1
# Files held to pyflakes; add yours. Everything under the three directories must compile.
lint=(lambda-chat dev/fake_sagemaker.py bench/lambda_overhead.py bench/seed_style_handler.py)
python3 -m compileall -q lambda-chat dev bench
if command -v pyflakes3 >/dev/null 2>&1; then
  echo "lint: pyflakes3 ${lint[*]}"
  pyflakes3 "${lint[@]}"
else
  echo "lint: pyflakes3 not found (apt-get install pyflakes3); byte-compiled only"
fi

python3 -m pytest -q "$@"
