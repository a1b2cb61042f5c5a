#!/bin/sh
# test-preset-ppl.sh VKINFER MODEL TSV HELDOUT PRESET [CHUNKS]
# `vkinfer perplexity` on the demo model as llama-quantize wrote it in
# PRESET, against llama.cpp's own perplexity of the same file (the TSV's
# third column, from `llama-perplexity -c 128 -b 128 -ctk f32 -ctv f32
# [--chunks CHUNKS]` on its CPU backend): within 0.5% for presets of 4 bits
# and more, 1% below. CHUNKS scores only the first chunks (the TSV then
# holds llama.cpp's figure for those).
# llama.cpp quantizes activations to 8 bits before its dot products and
# vkinfer keeps them in f32, so the two land close to, not on, each other.
set -eu
vkinfer=$1 model=$2 tsv=$3 heldout=$4 preset=$5 chunks=${6:-}
want=$(awk -F '\t' -v p="$preset" '$1 == p { print $3 }' "$tsv")
[ -n "$want" ] || { echo "no llama.cpp figure for $preset in $tsv" >&2; exit 1; }
out=$("$vkinfer" perplexity --model "$model" --file "$heldout" --ctx 128 --kv-cache-type f32 \
        ${chunks:+--chunks "$chunks"} 2>&1) || {
        echo "$out" >&2
        exit 1
}
got=$(echo "$out" | sed -n 's/^PPL = //p' | tail -n 1)
[ -n "$got" ] || { echo "no PPL line in: $out" >&2; exit 1; }
python3 - "$preset" "$got" "$want" <<'PY'
import re, sys
preset, got, want = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
m = re.match(r"(?:I?Q|TQ)(\d)", preset)
bits = int(m.group(1)) if m else 16  # F16, BF16, F32
bound = 0.005 if bits >= 4 else 0.01
dev = got / want - 1
print(f"{preset}: vkinfer PPL {got:.4f}, llama.cpp {want:.4f}: {100 * dev:+.3f}% (bound {100 * bound:.1f}%)")
sys.exit(0 if abs(dev) <= bound else 1)
PY
