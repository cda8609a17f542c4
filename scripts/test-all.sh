#!/usr/bin/env bash
# Every test of the project, in three lanes on this 2-core machine, each a list of suites
# run one after another, all three from the start (README "Test-suite time"):
#   1. the deploy rehearsal, the longest suite (about 270 s alone) and a chain of terraform
#      commands and provider waiters that cannot be cut shorter, at normal priority;
#   2. the typecheck, jest, terraform validate, the page weight and pytest, and
#   3. the browser tests, both at nice 3: they fill the CPU the rehearsal leaves while it
#      waits, and yield some to it when it needs both cores. (Measured: equal priority
#      400 s, the rehearsal last; nice 3 366 s, the rehearsal and lane 2 ending 11 s
#      apart; nice 5 starved jest in lane 2 and took longer.)
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

# Each lane: "<nice level>" then "name|command" per suite.
lane1=(0
  "deploy rehearsal (moto emulator)|bash scripts/deploy-rehearsal.sh"
)
lane2=(3
  "typecheck|npx tsc --noEmit"
  "stack unit tests (jest)|npx jest"
  "terraform validate (real AWS provider)|bash scripts/tf-validate.sh"
  "page weight|node scripts/page-weight.mjs"
  "lambda and dev worker tests (pytest)|bash scripts/test-python.sh"
)
lane3=(3
  "browser tests (chromium)|npx jest -c jest.browser.config.js"
)
lanes=(lane1 lane2 lane3)

logs=$(mktemp -d "${TMPDIR:-/tmp}/test-all-XXXXXX")
passed=0
failed=()
timings=()
start_all=$SECONDS

# Runs a lane's suites one after another at its nice level; suite <lane>-<index> leaves
# .log, .status and .seconds.
run_lane() { # lane-name nice suite...
  local lane=$1 level=$2 index=0 suite start
  shift 2
  for suite in "$@"; do
    start=$SECONDS
    nice -n "$level" bash -c "${suite#*|}" >"$logs/$lane-$index.log" 2>&1
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

declare -A reported
total=0
for lane in "${lanes[@]}"; do
  declare -n suites=$lane
  reported[$lane]=0
  total=$((total + ${#suites[@]} - 1))
  run_lane "$lane" "${suites[@]}" &
  for suite in "${suites[@]:1}"; do printf '=== %s: in %s (nice %s; printed when it ends)\n' "${suite%%|*}" "$lane" "${suites[0]}"; done
done

# Reports each suite as it ends, in the order they end, until all have.
done_count=0
while [ "$done_count" -lt "$total" ]; do
  sleep 1
  for lane in "${lanes[@]}"; do
    declare -n suites=$lane
    while [ "${reported[$lane]}" -lt $((${#suites[@]} - 1)) ] && [ -f "$logs/$lane-${reported[$lane]}.seconds" ]; do
      index=${reported[$lane]}
      suite="${suites[$((index + 1))]}" file="$logs/$lane-$index"
      report "${suite%%|*}" "${suite#*|}" "$file.log" "$(cat "$file.status")" "$(cat "$file.seconds")"
      reported[$lane]=$((index + 1))
      done_count=$((done_count + 1))
    done
  done
done
wait
rm -rf "$logs"

printf '\nsuite times (three lanes side by side; wall clock %ss):\n' "$((SECONDS - start_all))"
for line in "${timings[@]}"; do printf '%s\n' "$line"; done
for name in "${failed[@]}"; do printf 'failed suite: %s\n' "$name"; done
printf 'suites: %d passed, %d failed\n' "$passed" "${#failed[@]}"
[ "${#failed[@]}" -eq 0 ]
