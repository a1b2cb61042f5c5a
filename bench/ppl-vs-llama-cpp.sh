#!/bin/sh
# bench/ppl-vs-llama-cpp.sh LLAMA_BIN VKINFER TEXT CHUNKS MODEL...
# By hand, never from the build or tests: the perplexity of each MODEL by
# llama.cpp (llama-perplexity, Vulkan backend on device 0, which is lavapipe
# on a machine without a GPU; its CPU backend where GGML_VK=0) and by
# vkinfer, same text, chunks of 128, f32 KV cache, the first CHUNKS chunks;
# one TSV line per model: file, llama.cpp, vkinfer, difference in %.
# The models are made by llama-quantize from an F32 GGUF, e.g.
#   llama-quantize [--imatrix I] demo-F32.gguf demo-IQ2_S.gguf IQ2_S
set -eu
llama=$1 vkinfer=$2 text=$3 chunks=$4
shift 4
printf 'model\tllama.cpp\tvkinfer\tdiff_%%\n'
for m in "$@"; do
        if [ "${GGML_VK:-1}" = 0 ]; then
                ref=$("$llama/llama-perplexity" -m "$m" -f "$text" -c 128 -b 128 -ctk f32 -ctv f32 -t 2 \
                        --chunks "$chunks" 2>&1 | sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p')
        else
                ref=$(GGML_VK_VISIBLE_DEVICES=0 "$llama/llama-perplexity" -m "$m" -f "$text" -c 128 -b 128 \
                        -ctk f32 -ctv f32 -ngl 99 --chunks "$chunks" 2>&1 |
                        sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p')
        fi
        got=$("$vkinfer" perplexity --model "$m" --file "$text" --ctx 128 --chunks "$chunks" --kv-cache-type f32 2>&1 |
                sed -n 's/^PPL = //p')
        printf '%s\t%s\t%s\t%s\n' "$(basename "$m")" "${ref:-failed}" "${got:-failed}" \
                "$(python3 -c "import sys; a, b = sys.argv[1:]; print(f'{100 * (float(b) / float(a) - 1):+.3f}')" \
                        "${ref:-nan}" "${got:-nan}" 2>/dev/null || echo n/a)"
done
