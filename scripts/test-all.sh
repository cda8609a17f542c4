#!/usr/bin/env bash
# Every test of the project, in three lanes on this 2-core machine. Two suites that mostly
# wait run in the background from the start: the deploy rehearsal (on the provider's
# CloudFront and Route 53 waiters, on moto) and the browser tests (on the fake model's
# pace, on the page's timers). The CPU-bound suites run one after another beside them,
# at a lower priority (nice), so the two that measure time get the CPU when they need it.
# Each suite's output is kept in a file and printed whole when the suite ends, with its
# time, so lanes never interleave. Each suite runs even when another failed; the last line
# counts suites. Exit status: non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
export CHECKPOINT_DISABLE=1
# The interpreter itself, not pyenv's shim: the shim is a bash script that runs several
# pyenv commands before Python starts (~0.1 CPU-s), and the suites start Python hundreds
# of times (the dev server's workers, the fake model, moto).
python_bin=$(python3 -c 'import os, sys; print(os.path.dirname(os.path.realpath(sys.executable)))') && export PATH="$python_bin:$PATH"

# name|nice|command. The rehearsal is the longest lane (about 300 s alone, mostly one
# core's worth of provider CPU), so it gets the CPU first; the browser tests next (their
# timers measure real time); the CPU-bound suites below take what is left (nice 10).
backgrounds=(
  "deploy rehearsal (moto emulator)|0|bash scripts/deploy-rehearsal.sh"
  "browser tests (chromium)|3|npx jest -c jest.browser.config.js"
)
suites=(
  "typecheck|npx tsc --noEmit"
  "stack unit tests (jest)|npx jest"
  "lambda and dev worker tests (pytest)|bash scripts/test-python.sh"
  "terraform validate (real AWS provider)|bash scripts/tf-validate.sh"
  "page weight|node scripts/page-weight.mjs"
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

bg_pids=()
for index in "${!backgrounds[@]}"; do
  IFS='|' read -r _ niceness command <<<"${backgrounds[$index]}"
  ( start=$SECONDS; nice -n "$niceness" bash -c "$command" >"$logs/bg$index.log" 2>&1; echo $? >"$logs/bg$index.status"; echo $((SECONDS - start)) >"$logs/bg$index.seconds" ) &
  bg_pids+=($!)
  printf '=== %s: started in the background (printed when it ends)\n' "${backgrounds[$index]%%|*}"
done
bg_reported=()
report_backgrounds_done() {
  for index in "${!backgrounds[@]}"; do
    if [ -z "${bg_reported[$index]:-}" ] && [ -f "$logs/bg$index.seconds" ]; then
      report "${backgrounds[$index]%%|*}" "${backgrounds[$index]##*|}" "$logs/bg$index.log" "$(cat "$logs/bg$index.status")" "$(cat "$logs/bg$index.seconds")"
      bg_reported[$index]=1
    fi
  done
}

for index in "${!suites[@]}"; do
  suite="${suites[$index]}"
  name="${suite%%|*}"
  command="${suite#*|}"
  start=$SECONDS
  nice -n 10 bash -c "$command" >"$logs/$index.log" 2>&1
  status=$?
  report "$name" "$command" "$logs/$index.log" "$status" "$((SECONDS - start))"
  report_backgrounds_done
done
# Each background suite is printed as soon as it ends, whichever ends first.
while [ "${#bg_reported[@]}" -lt "${#backgrounds[@]}" ]; do
  sleep 1
  report_backgrounds_done
done
wait "${bg_pids[@]}"
rm -rf "$logs"

printf '\nsuite times (the rehearsal and the browser tests ran beside the others; wall clock %ss):\n' "$((SECONDS - start_all))"
for line in "${timings[@]}"; do printf '%s\n' "$line"; done
for name in "${failed[@]}"; do printf 'failed suite: %s\n' "$name"; done
printf 'suites: %d passed, %d failed\n' "$passed" "${#failed[@]}"
[ "${#failed[@]}" -eq 0 ]
