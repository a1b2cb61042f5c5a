#!/bin/sh
# VKINFER_PROFILE=1 prints GPU time per shader when the device closes, with
# the validation layer on and no validation message. Exit 77 without a
# Vulkan device. usage: test-profile.sh VKINFER MODEL
set -u
out=$(VKINFER_PROFILE=1 "$1" run --model "$2" --prompt "And God said" --max-tokens 4 --temperature 0 2>&1)
rc=$?
echo "$out"
case "$out" in *"no Vulkan device found"*|*"no Vulkan driver"*) exit 77 ;; esac
[ $rc -eq 0 ] || { echo "test-profile: vkinfer run exited $rc"; exit 1; }
echo "$out" | grep -q "vkinfer: validation:" && { echo "test-profile: validation messages"; exit 1; }
echo "$out" | grep -q "^GPU time per kernel on " || { echo "test-profile: no profile printed"; exit 1; }
# The demo model's matrices are Q8_0: matvec_q8_0 ran, with a positive time.
echo "$out" | awk '$1 == "matvec_q8_0" && $2 > 0 && $3 > 0 { found = 1 } END { exit !found }' ||
        { echo "test-profile: no matvec_q8_0 line with dispatches and time"; exit 1; }
exit 0
