#!/bin/sh
# The README's main job: start vkinferd on the bundled demo model, on a
# socket inside the build folder, ask it one chat question with `vkinfer
# chat` (which streams the answer), then stop the daemon.
set -eu
dir=${1:-build}
sock="$(pwd)/$dir/demo.sock"
"$dir/cli/vkinfer" devices | sed -n '1,/^$/p' || true
echo "Starting vkinferd on the demo model (a tiny DeepSeek-V3 trained on the King James Bible)..." >&2
"$dir/daemon/vkinferd" --no-dbus --socket "$sock" >"$dir/demo-vkinferd.log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 600); do
        "$dir/cli/vkinfer" status --socket "$sock" >/dev/null 2>&1 && break
        kill -0 $pid 2>/dev/null || { cat "$dir/demo-vkinferd.log" >&2; exit 1; }
        sleep 0.1
done
question="And God said"
echo "> $question" >&2
# A chat model would need chat turns to have been trained on; the demo model
# only knows the Bible's prose, so it continues the text.
VKINFER_SOCKET="$sock" "$dir/cli/vkinfer" chat --max-tokens 60 --temperature 0.6 "$question"
echo "(the same over HTTP: curl --unix-socket $sock http://localhost/v1/chat/completions -d '{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}')" >&2
