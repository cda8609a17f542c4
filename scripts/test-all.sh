#!/usr/bin/env bash
# Every test of the project. Two lanes share this 2-core machine: the deploy rehearsal,
# which mostly waits (on the provider's CloudFront waiter, on moto), runs in the background
# from the start, while the CPU-bound suites run one after another beside it. Each suite's
# output is kept in a file and printed whole when the suite ends, with its time, so lanes
# never interleave. Each suite runs even when another failed; the last line counts suites.
# Exit status: non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
export CHECKPOINT_DISABLE=1

background="deploy rehearsal (moto emulator)|bash scripts/deploy-rehearsal.sh"
suites=(
  "typecheck|npx tsc --noEmit"
  "stack unit tests (jest)|npx jest"
  "lambda and dev worker tests (pytest)|bash scripts/test-python.sh"
  "terraform validate (real AWS provider)|bash scripts/tf-validate.sh"
  "page weight|node scripts/page-weight.mjs"
  "browser tests (chromium)|npx jest -c jest.browser.config.js"
)

logs=$(mktemp -d "${TMPDIR:-/tmp}/test-all-XXXXXX")
passed=0
failed=()
timings=()
start_all=$SECONDS

# Prints a finished suite's whole output between its header and its result line.
report() { # name command log status seconds
  printf '\n=== %s: %s\n' "$1" "$2"
  cat "$3"
  if [ "$4" -eq 0 ]; then
    passed=$((passed + 1))
    printf '=== %s: ok (%ss)\n' "$1" "$5"
  else
    failed+=("$1")
    printf '=== %s: FAILED (%ss)\n' "$1" "$5"
  fi
  timings+=("$(printf '%6ss  %s' "$5" "$1")")
}

bg_name="${background%%|*}"
bg_command="${background#*|}"
bg_start=$SECONDS
( bash -c "$bg_command" >"$logs/background.log" 2>&1; echo $? >"$logs/background.status"; echo $((SECONDS - bg_start)) >"$logs/background.seconds" ) &
bg_pid=$!
printf '=== %s: started in the background (printed when it ends)\n' "$bg_name"
bg_reported=0
report_background_if_done() {
  if [ "$bg_reported" -eq 0 ] && [ -f "$logs/background.seconds" ]; then
    report "$bg_name" "$bg_command" "$logs/background.log" "$(cat "$logs/background.status")" "$(cat "$logs/background.seconds")"
    bg_reported=1
  fi
}

for index in "${!suites[@]}"; do
  suite="${suites[$index]}"
  name="${suite%%|*}"
  command="${suite#*|}"
  start=$SECONDS
  bash -c "$command" >"$logs/$index.log" 2>&1
  status=$?
  report "$name" "$command" "$logs/$index.log" "$status" "$((SECONDS - start))"
  report_background_if_done
done
wait "$bg_pid"
report_background_if_done
rm -rf "$logs"

printf '\nsuite times (the rehearsal ran beside the others; wall clock %ss):\n' "$((SECONDS - start_all))"
for line in "${timings[@]}"; do printf '%s\n' "$line"; done
for name in "${failed[@]}"; do printf 'failed suite: %s\n' "$name"; done
printf 'suites: %d passed, %d failed\n' "$passed" "${#failed[@]}"
[ "${#failed[@]}" -eq 0 ]
