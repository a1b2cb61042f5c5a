#!/bin/sh
# Runs every test suite of a build directory and prints the closing line
# "N passed, M failed[, K skipped]". Exits non-zero when any test failed.
set -u
dir=${1:-build}
export XDG_CACHE_HOME="${XDG_CACHE_HOME:-$(mktemp -d)}"
meson test -C "$dir" --print-errorlogs --num-processes "$(nproc)" ${MESON_TEST_ARGS:-}
rc=$?
python3 - "$dir/meson-logs/testlog.json" <<'PY'
import json, sys
counts = {"passed": 0, "failed": 0, "skipped": 0}
for line in open(sys.argv[1]):
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
