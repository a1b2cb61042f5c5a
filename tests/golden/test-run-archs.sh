#!/bin/sh
# `vkinfer run` generates text from a model of each architecture (tiny,
# seeded, with a byte-level tokenizer and a chat template), and the Vulkan
# forward gives the same greedy text as the CPU reference.
# usage: test-run-archs.sh VKINFER TINY_MODEL_GEN TEMPLATE
set -u
vkinfer=$1
gen=$2
template=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
for variant in deepseek2-v3 deepseek2-v2-lite llama qwen2; do
        "$gen" --chat "$template" "$variant" "$tmp/$variant.gguf" || { fail=1; continue; }
        for mode in --prompt --chat; do
                gpu=$("$vkinfer" run --model "$tmp/$variant.gguf" $mode "Hello there" --temperature 0 \
                      --max-tokens 12 --ignore-eos 2>"$tmp/err") || { echo "$variant $mode: $(cat "$tmp/err")" >&2; fail=1; continue; }
                grep -q "^prefill: .*decode: 12 tokens" "$tmp/err" || { echo "$variant: no speed line" >&2; fail=1; }
                cpu=$("$vkinfer" run --model "$tmp/$variant.gguf" $mode "Hello there" --temperature 0 \
                      --max-tokens 12 --ignore-eos --device cpu-reference 2>/dev/null)
                if [ -z "$gpu" ] || [ "$gpu" != "$cpu" ]; then
                        echo "$variant $mode: Vulkan '$gpu' vs CPU reference '$cpu'" >&2
                        fail=1
                else
                        echo "$variant $mode: $(printf '%s' "$gpu" | od -An -c | head -1)" >&2
                fi
        done
done
exit $fail
