#!/usr/bin/env bash
# Every test of the project, in order of speed; each suite runs even when an earlier one
# failed, and the last line says how many suites passed. Exit status: non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
export CHECKPOINT_DISABLE=1

suites=(
  "typecheck|npx tsc --noEmit"
  "stack unit tests (jest)|npx jest"
  "lambda and dev worker tests (pytest)|bash scripts/test-python.sh"
  "terraform validate (real AWS provider)|bash scripts/tf-validate.sh"
  "page weight|node scripts/page-weight.mjs"
  "browser tests (chromium)|npx jest -c jest.browser.config.js"
  "deploy rehearsal (moto emulator)|bash scripts/deploy-rehearsal.sh"
)

passed=0
failed=()
for suite in "${suites[@]}"; do
  name="${suite%%|*}"
  command="${suite#*|}"
  printf '\n=== %s: %s\n' "$name" "$command"
  start=$SECONDS
  if bash -c "$command"; then
    passed=$((passed + 1))
    printf '=== %s: ok (%ss)\n' "$name" "$((SECONDS - start))"
  else
    failed+=("$name")
    printf '=== %s: FAILED (%ss)\n' "$name" "$((SECONDS - start))"
  fi
done

printf '\n'
for name in "${failed[@]}"; do printf 'failed suite: %s\n' "$name"; done
printf 'suites: %d passed, %d failed\n' "$passed" "${#failed[@]}"
[ "${#failed[@]}" -eq 0 ]
