#!/bin/sh
# run-fuzz.sh FUZZER SCRATCH SECONDS SEEDS...: first replays every seed (a
# crash there is a regression), then mutates them for SECONDS. New inputs are
# written to SCRATCH; the committed SEEDS folders stay untouched. A crash
# leaves its input as SCRATCH/crash-* and fails the test.
set -eu
fuzzer=$1 scratch=$2 seconds=$3
shift 3
# fuzz/NAME.dict, where there is one, guides the mutations.
dict=$(dirname "$0")/$(basename "$fuzzer").dict
if [ -f "$dict" ]; then set -- -dict="$dict" "$@"; fi
mkdir -p "$scratch"
# No cd: relative paths (the fuzzer, SEEDS, the dict) stay valid.
"$fuzzer" -artifact_prefix="$scratch/" -error_exitcode=1 -timeout_exitcode=1 -runs=0 "$@"
exec "$fuzzer" -artifact_prefix="$scratch/" -error_exitcode=1 -timeout_exitcode=1 -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 "$scratch" "$@"
