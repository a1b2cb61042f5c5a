#!/bin/sh
# vkinfer tokenize / detokenize on real vocabulary files: output formats,
# BOS by default, --no-bos, --no-special, stdin, the round trip through a
# pipe, and the errors (missing model, bad id, unknown option).
set -u
bin=${VKINFER_BIN:?}
data=${VKINFER_TEST_DATA:?}
ds=$data/vocab/deepseek-v3.gguf
qw=$data/vocab/qwen2.gguf
spm=$data/vocab/ggml-vocab-llama-spm.gguf
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() { # name, got, want
        if [ "$2" != "$3" ]; then
                printf 'FAIL %s\n  got:  %s\n  want: %s\n' "$1" "$2" "$3" >&2
                fail=1
        fi
}

# Reference ids (tests/data/tokenize/deepseek-v3.jsonl): "Hello world" -> 19923 2058.
check "ids with BOS" "$("$bin" tokenize --model "$ds" --ids-only "Hello world")" "0 19923 2058"
check "ids --no-bos" "$("$bin" tokenize -m "$ds" -i --no-bos "Hello world")" "19923 2058"
# Qwen adds no BOS; a control token written in the text is one token...
check "qwen special" "$("$bin" tokenize -m "$qw" -i "a<|im_end|>")" "64 151645"
# ...unless --no-special.
check "qwen --no-special" "$("$bin" tokenize -m "$qw" -i --no-special "a<|im_end|>")" "64 27 91 318 6213 91 29"

# id<TAB>piece lines, pieces escaped.
printf '0\t<｜begin▁of▁sentence｜>\n19923\tHello\n201\t\\n\n' >"$tmp/want"
"$bin" tokenize -m "$ds" "Hello
" >"$tmp/got"
cmp -s "$tmp/got" "$tmp/want" || { echo "FAIL id<TAB>piece lines:" >&2; cat "$tmp/got" >&2; fail=1; }
# A byte token of half a character is shown as \x escapes.
check "partial utf-8 piece" "$("$bin" tokenize -m "$ds" --no-bos "🦙" | cut -f2 | tr '\n' ' ')" '\xf0\x9f \xa6 \x99 '

# stdin, and the round trip through a pipe, byte for byte.
printf 'Line one\n\tTabbed 中文 🦙\n\n  end  ' >"$tmp/text"
for m in "$ds" "$qw" "$spm"; do
        "$bin" tokenize -m "$m" -i - <"$tmp/text" >"$tmp/ids" || fail=1
        "$bin" detokenize -m "$m" --no-special - <"$tmp/ids" >"$tmp/back" || fail=1
        cmp -s "$tmp/text" "$tmp/back" || { echo "FAIL round trip through $m" >&2; fail=1; }
done
check "detokenize args" "$("$bin" detokenize -m "$ds" 0 19923 2058)" "<｜begin▁of▁sentence｜>Hello world"
check "detokenize --no-special" "$("$bin" detokenize -m "$ds" --no-special 0 19923 2058 1)" "Hello world"
check "detokenize spm" "$("$bin" detokenize -m "$spm" --no-special 1 15043 3186)" "Hello world"

# Errors: exit status and a message naming the problem.
out=$("$bin" tokenize -m "$data/vocab/nonexistent.gguf" x 2>&1); rc=$?
check "missing file rc" "$rc" 1
case $out in *nonexistent.gguf*) ;; *) echo "FAIL missing file message: $out" >&2; fail=1 ;; esac
out=$("$bin" detokenize -m "$ds" 12 999999 2>&1); rc=$?
check "bad id rc" "$rc" 1
case $out in *999999*range*) ;; *) echo "FAIL bad id message: $out" >&2; fail=1 ;; esac
"$bin" detokenize -m "$ds" 12 abc >/dev/null 2>&1; check "non-numeric id rc" "$?" 2
"$bin" tokenize "text" >/dev/null 2>&1; check "no --model rc" "$?" 2
"$bin" tokenize -m "$ds" --bogus x >/dev/null 2>&1; check "unknown option rc" "$?" 2
"$bin" tokenize --help | grep -q -- "--no-bos"; check "help" "$?" 0

[ $fail = 0 ] && echo "tokenizer-cli: ok" >&2
exit $fail
