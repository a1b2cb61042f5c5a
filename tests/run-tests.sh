#!/bin/sh
# tests/run-tests.sh [DIR[:SUITE,...[:noleaks]]]...
# Runs the test suites of each build directory (all suites, or only those
# named after the colon; ':noleaks' turns LeakSanitizer off for them, for
# suites that load Vulkan drivers and layers, whose own allocations are
# reported as leaks once they are unloaded) and prints one closing line:
# "N passed, M failed[, K skipped]". Exits non-zero when any test failed.
set -u
[ $# -eq 0 ] && set -- build
export XDG_CACHE_HOME="${XDG_CACHE_HOME:-$(mktemp -d)}"
# One Mesa shader cache for every build directory: the sanitizer builds run
# the same SPIR-V, and lavapipe compiling it all again (the quant kernels:
# 47 s cold, 3 s warm for two types) cost minutes. Tests set XDG_CACHE_HOME
# per build directory; this takes precedence for Mesa's cache only.
export MESA_SHADER_CACHE_DIR="${MESA_SHADER_CACHE_DIR:-$XDG_CACHE_HOME/mesa_shader_cache}"
# Sanitizer builds: any UBSan finding is fatal, with a stack.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
rc=0
logs=""
for spec in "$@"; do
        dir=${spec%%:*}
        suites=""
        asan="${ASAN_OPTIONS:-}"
        case "$spec" in *:noleaks) spec=${spec%:noleaks}; asan="detect_leaks=0" ;; esac
        if [ "$dir" != "$spec" ]; then
                for s in $(echo "${spec#*:}" | tr ',' ' '); do
                        suites="$suites --suite $s"
                done
        fi
        log="$dir/meson-logs/testlog.json"
        rm -f "$log"
        # shellcheck disable=SC2086
        ASAN_OPTIONS="$asan" meson test -C "$dir" --print-errorlogs --num-processes "$(nproc)" $suites \
                ${MESON_TEST_ARGS:-} || rc=1
        # Keep each run's results: a directory may be run twice.
        [ -f "$log" ] && cp "$log" "$log.$(echo "$spec" | tr -c 'a-z0-9' '_')"
        logs="$logs $log.$(echo "$spec" | tr -c 'a-z0-9' '_')"
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
