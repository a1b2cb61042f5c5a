#!/bin/sh
# The demo model end to end through the CLI: `vkinfer perplexity` on the
# held-out text within 1% of PyTorch's figure (same text and chunking), and
# greedy text from "And God said" equal to PyTorch's greedy continuation.
# usage: test-demo-text.sh VKINFER MODEL DATADIR
set -u
vkinfer=$1
model=$2
data=$3
dev=${VKINFER_TEST_DEVICE:+--device $VKINFER_TEST_DEVICE}
fail=0
ctx=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['ctx'])" "$data/perplexity.json")
# The first 10 chunks keep the test short on lavapipe; PyTorch's running
# figure after 10 chunks is in the same file.
chunks=10
want=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['ppl_per_chunk_running'][$chunks - 1])" "$data/perplexity.json")
# shellcheck disable=SC2086
got=$("$vkinfer" perplexity --model "$model" --file "$data/heldout.txt" --ctx "$ctx" --chunks $chunks $dev 2>/dev/null |
      sed -n 's/^PPL = //p')
echo "perplexity: vkinfer $got, PyTorch $want" >&2
python3 -c "import sys; g, w = float(sys.argv[1] or 'nan'), float(sys.argv[2]); sys.exit(0 if abs(g - w) <= 0.01 * w else 1)" \
        "$got" "$want" || { echo "perplexity $got is not within 1% of $want" >&2; fail=1; }

prompt=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['prompt'])" "$data/greedy.json")
n=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['n_predict'])" "$data/greedy.json")
# shellcheck disable=SC2086
text=$("$vkinfer" run --model "$model" --prompt "$prompt" --temperature 0 --max-tokens "$n" --ignore-eos $dev 2>/dev/null)
python3 -c "
import json, sys
want = json.load(open(sys.argv[1]))['text']
got = sys.stdin.read()
if got.endswith('\n'):
    got = got[:-1]
if got != want:
    print('greedy text differs:\n  got  %r\n  want %r' % (got, want), file=sys.stderr)
    sys.exit(1)
print('greedy: %r' % got, file=sys.stderr)
" "$data/greedy.json" <<EOT || fail=1
$text
EOT
exit $fail
