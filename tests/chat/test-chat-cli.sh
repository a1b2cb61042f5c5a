#!/bin/sh
# vkinfer template end to end: a .jinja file and the DeepSeek-V3 GGUF, the
# prompt compared byte for byte (no trailing newline), --var and
# --no-generation-prompt, and failures that exit non-zero with a message.
set -u
bin=${VKINFER_BIN:?}
data=${VKINFER_TEST_DATA:?}
tpl=$data/chat-templates
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

# expect NAME EXPECTED-FILE CMD...: stdin from $tmp/in.json
expect() {
        name=$1 want=$2
        shift 2
        if ! "$@" <"$tmp/in.json" >"$tmp/out" 2>"$tmp/err"; then
                echo "FAIL $name: exit $? ($(cat "$tmp/err"))"
                fail=1
        elif ! cmp -s "$tmp/out" "$want"; then
                echo "FAIL $name: output differs"
                od -c "$tmp/out" | head -20
                fail=1
        fi
}

printf '%s' '[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},{"role":"assistant","content":"<think>\nhm\n</think>\n\nHello!"},{"role":"user","content":"2+2?"}]' >"$tmp/in.json"

printf '%s' '<｜begin▁of▁sentence｜>Be brief.<｜User｜>Hi<｜Assistant｜><think>
hm
</think>

Hello!<｜end▁of▁sentence｜><｜User｜>2+2?<｜Assistant｜>' >"$tmp/want-v3"
expect gguf "$tmp/want-v3" "$bin" template --model "$data/vocab/deepseek-v3.gguf"
expect jinja "$tmp/want-v3" "$bin" template --template "$tpl/deepseek-ai-DeepSeek-V3.jinja" --bos '<｜begin▁of▁sentence｜>'

printf '%s' 'Be brief.<｜User｜>Hi<｜Assistant｜>

Hello!<｜end▁of▁sentence｜><｜User｜>2+2?<｜Assistant｜><think>
' >"$tmp/want-r1"
expect r1-thinking "$tmp/want-r1" "$bin" template --template "$tpl/deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja" --var enable_thinking=true
printf '%s' '</think>' >>"$tmp/want-r1"
expect r1-not-thinking "$tmp/want-r1" "$bin" template --template "$tpl/deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja"

printf '%s' '<B>Be brief.<｜User｜>Hi<｜Assistant｜><think></think>

Hello!<｜end▁of▁sentence｜><｜User｜>2+2?' >"$tmp/want-v31"
expect v31-no-gen "$tmp/want-v31" "$bin" template --template "$tpl/deepseek-ai-DeepSeek-V3.1.jinja" --bos '<B>' --no-generation-prompt

# --var with a non-JSON value is a string; the date is injectable.
printf '%s' '{{ who }} {{ who is string }} {{ n + 1 }} {{ strftime_now("%d %b %Y") }}' >"$tmp/t.jinja"
printf '%s' 'world True 3 22 Nov 2026' >"$tmp/want-var"
expect var "$tmp/want-var" "$bin" template --template "$tmp/t.jinja" --var who=world --var n=2 --date 2026-11-22

# The family.
printf 'deepseek-v3\n' >"$tmp/want-detect"
expect detect "$tmp/want-detect" "$bin" template --model "$data/vocab/deepseek-v3.gguf" --detect

# Failures: exit non-zero, say why, print nothing on stdout.
expect_fail() {
        name=$1 needle=$2
        shift 2
        if "$@" <"$tmp/in.json" >"$tmp/out" 2>"$tmp/err"; then
                echo "FAIL $name: succeeded"
                fail=1
        elif ! grep -qF -- "$needle" "$tmp/err"; then
                echo "FAIL $name: stderr lacks '$needle': $(cat "$tmp/err")"
                fail=1
        elif [ -s "$tmp/out" ]; then
                echo "FAIL $name: wrote to stdout"
                fail=1
        fi
}
printf '%s' '{% include "x" %}' >"$tmp/bad.jinja"
expect_fail unsupported "include" "$bin" template --template "$tmp/bad.jinja"
printf '%s' '{{ raise_exception("only user turns") }}' >"$tmp/raise.jinja"
expect_fail raise "only user turns" "$bin" template --template "$tmp/raise.jinja"
expect_fail both "exactly one" "$bin" template --model x --template y
expect_fail none "exactly one" "$bin" template
expect_fail missing "cannot open" "$bin" template --template "$tmp/nope.jinja"
expect_fail var "NAME=VALUE" "$bin" template --template "$tmp/t.jinja" --var novalue
printf '%s' '[{"role": "user", ' >"$tmp/in.json"
expect_fail json "standard input" "$bin" template --template "$tmp/t.jinja"

[ $fail = 0 ] && echo "chat-cli: ok"
exit $fail
