#!/bin/sh
# `vkinfer devices` lists a chosen device and `vkinfer selftest` passes
# (with the validation layer on, from the test environment). Exit 77 when
# there is no Vulkan device. Arguments are NAME=VALUE pairs to export first
# (LP_NATIVE_VECTOR_WIDTH=128 makes lavapipe use subgroups of 4).
set -u
bin=${VKINFER_BIN:?}
for a in "$@"; do export "$a"; done
out=$("$bin" devices 2>&1)
rc=$?
if [ $rc -ne 0 ]; then
        echo "$out"
        case "$out" in *"no Vulkan device found"*|*"no Vulkan driver"*) exit 77 ;; esac
        exit 1
fi
echo "$out"
echo "$out" | grep -q '^\* [0-9]*: ' || { echo "cli.sh: no device marked as chosen"; exit 1; }
echo "$out" | grep -q 'subgroup size [1-9]' || { echo "cli.sh: no subgroup size"; exit 1; }
out=$("$bin" selftest 2>&1)
rc=$?
echo "$out"
[ $rc -eq 0 ] || { echo "cli.sh: selftest exited $rc"; exit 1; }
echo "$out" | grep -q '^selftest: [0-9]* kernels, [0-9]* passed, 0 failed$' || { echo "cli.sh: no clean summary"; exit 1; }
echo "$out" | grep -q '^FAIL' && { echo "cli.sh: a kernel failed"; exit 1; }
exit 0
