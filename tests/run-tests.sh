#!/bin/sh
# tests/run-tests.sh [DIR[:SUITE,...]]...
# Runs the test suites of each build directory (all suites, or only those
# named after the colon) and prints one closing line over all of them:
# "N passed, M failed[, K skipped]". Exits non-zero when any test failed.
set -u
[ $# -eq 0 ] && set -- build
export XDG_CACHE_HOME="${XDG_CACHE_HOME:-$(mktemp -d)}"
# Sanitizer builds: any UBSan finding is fatal, with a stack.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
rc=0
logs=""
for spec in "$@"; do
        dir=${spec%%:*}
        suites=""
        if [ "$dir" != "$spec" ]; then
                for s in $(echo "${spec#*:}" | tr ',' ' '); do
                        suites="$suites --suite $s"
                done
        fi
        rm -f "$dir/meson-logs/testlog.json"
        # shellcheck disable=SC2086
        meson test -C "$dir" --print-errorlogs --num-processes "$(nproc)" $suites ${MESON_TEST_ARGS:-} || rc=1
        logs="$logs $dir/meson-logs/testlog.json"
done
# shellcheck disable=SC2086
python3 - $logs <<'PY'
import json, os, sys
counts = {"passed": 0, "failed": 0, "skipped": 0}
for path in sys.argv[1:]:
    if not os.path.exists(path):
        counts["failed"] += 1  # the run did not even start
        continue
    for line in open(path):
        r = json.loads(line)["result"]
        if r in ("OK", "EXPECTEDFAIL"):
            counts["passed"] += 1
        elif r == "SKIP":
            counts["skipped"] += 1
        else:
            counts["failed"] += 1
s = f"{counts['passed']} passed, {counts['failed']} failed"
if counts["skipped"]:
    s += f", {counts['skipped']} skipped"
print(s)
PY
exit $rc
