#!/usr/bin/env bash
# Runs each fuzz target (fuzz/fuzz_targets/) for a bounded time, starting
# from its seed corpus in fuzz/seeds/TARGET (with the tokens of
# fuzz/dicts/TARGET.dict when there is one), and fails if any finds a crash,
# naming the file that holds the crashing input. See docs/fuzzing.md.
#
#   bash scripts/fuzz.sh                 every target, 30 s each
#   bash scripts/fuzz.sh 600 frame ports  those targets, 10 minutes each
#   FUZZ_SECONDS=120 bash scripts/fuzz.sh
#
# New inputs found go to fuzz/corpus/TARGET and crashes to
# fuzz/artifacts/TARGET (cargo-fuzz's places, not committed).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-${FUZZ_SECONDS:-30}}
if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
  echo "fuzz: seconds must be a whole number above 0, not \"$seconds\"" >&2
  exit 2
fi
shift || true

bash scripts/install-fuzz.sh
# The fuzz package is a workspace of its own with its own Cargo.lock.
cargo fetch --locked --manifest-path fuzz/Cargo.toml
cd fuzz
if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

# Stable Rust: no sanitizer (AddressSanitizer needs nightly's -Zsanitizer).
# Panics, overflow checks, debug assertions and the standard library's
# undefined-behaviour checks still abort the run.
cargo fuzz build --sanitizer none

passed=0
failed=0
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target" "artifacts/$target"
  log="artifacts/$target/last-run.log"
  marker=$(mktemp)
  echo "fuzz: $target for ${seconds}s"
  # The text formats' tokens, spliced into inputs.
  dict=()
  if [ -f "dicts/$target.dict" ]; then
    dict=(-dict="dicts/$target.dict")
  fi
  status=0
  cargo fuzz run --sanitizer none "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -timeout=10 -print_final_stats=1 "${dict[@]}" >"$log" 2>&1 || status=$?
  found=$(find "artifacts/$target" -type f -newer "$marker" \
    \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) | sort)
  rm -f "$marker"
  if [ "$status" -ne 0 ] || [ -n "$found" ]; then
    failed=$((failed + 1))
    tail -n 40 "$log" >&2
    echo "fuzz: $target FAILED (exit status $status); log: fuzz/$log" >&2
    for input in $found; do
      echo "fuzz: crashing input: fuzz/$input" >&2
      echo "fuzz:   reproduce: (cd fuzz && cargo fuzz run --sanitizer none $target $input)" >&2
    done
  else
    passed=$((passed + 1))
    grep -E '^stat::number_of_executed_units' "$log" | sed "s/^/fuzz: $target /" || true
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
