#!/usr/bin/env bash
# Every test of the project, in two lanes on this 2-core machine, each a list of suites run
# one after another: lane 1 in the background from the start, lane 2 here. The lanes are
# balanced by measured time (README "Test-suite time"): the deploy rehearsal, the longest
# suite (about 300 s alone, mostly one core's worth of provider CPU), then pytest; beside
# them the typecheck, jest, terraform validate, the page weight and the browser tests.
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

# name|command
lane1=(
  "deploy rehearsal (moto emulator)|bash scripts/deploy-rehearsal.sh"
  "lambda and dev worker tests (pytest)|bash scripts/test-python.sh"
)
lane2=(
  "typecheck|npx tsc --noEmit"
  "stack unit tests (jest)|npx jest"
  "terraform validate (real AWS provider)|bash scripts/tf-validate.sh"
  "page weight|node scripts/page-weight.mjs"
  "browser tests (chromium)|npx jest -c jest.browser.config.js"
)

logs=$(mktemp -d "${TMPDIR:-/tmp}/test-all-XXXXXX")
passed=0
failed=()
timings=()
start_all=$SECONDS

# Runs a lane's suites one after another; suite <lane>-<index> leaves .log, .status, .seconds.
run_lane() { # lane-name suite...
  local lane=$1 index=0 suite start
  shift
  for suite in "$@"; do
    start=$SECONDS
    bash -c "${suite#*|}" >"$logs/$lane-$index.log" 2>&1
    echo $? >"$logs/$lane-$index.status"
    echo $((SECONDS - start)) >"$logs/$lane-$index.seconds"
    index=$((index + 1))
  done
}

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

# Reports every suite of lane 1 that has ended since the last call.
lane1_reported=0
report_lane1() {
  while [ "$lane1_reported" -lt "${#lane1[@]}" ] && [ -f "$logs/lane1-$lane1_reported.seconds" ]; do
    local suite="${lane1[$lane1_reported]}" file="$logs/lane1-$lane1_reported"
    report "${suite%%|*}" "${suite#*|}" "$file.log" "$(cat "$file.status")" "$(cat "$file.seconds")"
    lane1_reported=$((lane1_reported + 1))
  done
}

run_lane lane1 "${lane1[@]}" &
lane1_pid=$!
for suite in "${lane1[@]}"; do printf '=== %s: in the background lane (printed when it ends)\n' "${suite%%|*}"; done

for index in "${!lane2[@]}"; do
  suite="${lane2[$index]}"
  start=$SECONDS
  bash -c "${suite#*|}" >"$logs/lane2-$index.log" 2>&1
  status=$?
  report "${suite%%|*}" "${suite#*|}" "$logs/lane2-$index.log" "$status" "$((SECONDS - start))"
  report_lane1
done
while [ "$lane1_reported" -lt "${#lane1[@]}" ]; do
  sleep 1
  report_lane1
done
wait "$lane1_pid"
rm -rf "$logs"

printf '\nsuite times (two lanes side by side; wall clock %ss):\n' "$((SECONDS - start_all))"
for line in "${timings[@]}"; do printf '%s\n' "$line"; done
for name in "${failed[@]}"; do printf 'failed suite: %s\n' "$name"; done
printf 'suites: %d passed, %d failed\n' "$passed" "${#failed[@]}"
[ "${#failed[@]}" -eq 0 ]
