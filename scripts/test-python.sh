#!/usr/bin/env bash
# Lint and test the Python side (the chat Lambda, the fake model, the dev worker, the
# benchmark), from the repo root. npm run test:python. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

export PYTHONDONTWRITEBYTECODE=1
# Every Python file of the project is held to pyflakes and must compile.
lint=(lambda-chat dev bench scripts __tests__/browser/fixtures)
python3 -m compileall -q "${lint[@]}"
if command -v pyflakes3 >/dev/null 2>&1; then
  echo "lint: pyflakes3 ${lint[*]}"
  pyflakes3 "${lint[@]}"
else
  echo "lint: pyflakes3 not found (apt-get install pyflakes3); byte-compiled only"
fi

python3 -m pytest -q "$@"
