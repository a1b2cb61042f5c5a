#!/bin/sh
# cache-unwritable.sh VKINFER MODEL: a pipeline cache that cannot be written
# (its directory is a file, as good as a full disk for the save) costs only
# time: `vkinfer run` still answers and exits 0. Exit 77 without a device.
set -u
bin=$1 model=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: > "$tmp/file"
out=$(XDG_CACHE_HOME="$tmp/file" "$bin" run --model "$model" --prompt "In the beginning" --max-tokens 4 \
        --ignore-eos 2>&1)
rc=$?
case "$out" in *"no Vulkan device found"*|*"no Vulkan driver"*) exit 77 ;; esac
[ $rc -eq 0 ] || { echo "$out"; echo "cache-unwritable.sh: exit $rc with an unwritable cache"; exit 1; }
echo "$out" | grep -q 'decode: 4 tokens' || { echo "$out"; echo "cache-unwritable.sh: no 4 decoded tokens"; exit 1; }
[ -s "$tmp/file" ] && { echo "cache-unwritable.sh: the file in the cache's place was written"; exit 1; }
echo "cache-unwritable.sh: ok"
