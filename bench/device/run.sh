#!/bin/sh
# On a lent GPU machine (see prepare.sh): the Vulkan tests with the
# validation layer on, then the figures for bench/RESULTS.md. Everything
# goes to $OUT/device-check.txt (and stdout). Takes a few minutes.
set -u
cd "$(dirname "$0")/../.."
out=${OUT:-/tmp}/device-check.txt
for f in .device/debs/*.deb; do dpkg -x "$f" /; done
ldconfig
if ! ls /usr/share/vulkan/icd.d/*nvidia* /etc/vulkan/icd.d/*nvidia* >/dev/null 2>&1 &&
   [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
        export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
export VKINFER_TEST_DATA="$(pwd)/tests/data" XDG_CACHE_HOME=/tmp/vkinfer-cache
bin=.device/bin
{
        echo "== $(date -u '+%F %T') commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
        nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -2
        echo "== vkinfer devices"
        $bin/vkinfer devices
        echo "== selftest (validation layer on)"
        VKINFER_VALIDATION=1 $bin/vkinfer selftest | tail -5
        for t in $bin/test-*; do
                args=""
                [ "$(basename "$t")" = test-demo-logits ] && args="models/demo/demo.gguf tests/data/demo/logits.json"
                # shellcheck disable=SC2086
                VKINFER_VALIDATION=1 timeout 300 "$t" $args >/tmp/t.log 2>&1
                echo "test $(basename "$t"): exit $?"
                grep -i "failed\|validation" /tmp/t.log | head -5
        done
        VKINFER_VALIDATION=1 VKINFER_BIN=$bin/vkinfer timeout 300 sh tests/vk/cli.sh >/dev/null 2>&1
        echo "test cli.sh: exit $?"
        echo "== bench, demo model (deepseek2, Q8_0)"
        for kv in f16 f32; do
                $bin/vkinfer bench --model models/demo/demo.gguf -p 512 -n 128 -r 5 --kv-cache-type $kv 2>/dev/null
        done
        echo "== rows per matvec workgroup (1 is the GPU default)"
        for nr in 1 2 4; do
                echo "VKINFER_MATVEC_ROWS=$nr"
                VKINFER_MATVEC_ROWS=$nr $bin/vkinfer bench --model models/demo/demo.gguf -p 512 -n 128 -r 5 2>/dev/null |
                        grep -E "^(prefill|decode)"
        done
        echo "== tiny models, larger (fwd-bench)"
        for v in deepseek2-v3 llama qwen2; do $bin/fwd-bench $v 256 64 2>&1 | tail -2; done
        echo "== GPU time per shader, one decode run"
        VKINFER_PROFILE=1 $bin/vkinfer run --model models/demo/demo.gguf --prompt "And God said" --max-tokens 64 \
                --temperature 0 2>&1 | sed -n '/GPU time per kernel/,$p'
        echo "== demo model against PyTorch: perplexity within 1%, greedy text equal"
        sh tests/golden/test-demo-text.sh $bin/vkinfer models/demo/demo.gguf tests/data/demo
        echo "test-demo-text.sh: exit $?"
} 2>&1 | tee "$out"
